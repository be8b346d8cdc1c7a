// Image names that name an object in a storage bucket (issue 21): what is refused and why, and
// the local name the agent imports each object as.

#include "macvmorx/protocol/image_source.hpp"

#include "macvmorx/base/invalid_input.hpp"

#include <gtest/gtest.h>

#include <set>

using macvmorx::protocol::image_source;
using macvmorx::protocol::image_source_problem;
using macvmorx::protocol::ImageSource;
using macvmorx::protocol::local_vm_name;

TEST(ImageSource, ANameWithoutASchemeIsAnOciReference) {
    for (const char* name : {"ghcr.io/cirruslabs/macos-sequoia-xcode:16", "macos-sonoma-base",
                             "ghcr.io/acme/image@sha256:0123abcd"}) {
        const auto source = image_source(name);
        EXPECT_EQ(source.kind, ImageSource::Kind::oci) << name;
        EXPECT_FALSE(source.in_bucket());
        EXPECT_EQ(image_source_problem(name), "") << name;
    }
}

TEST(ImageSource, GsAndS3UrlsNameABucketAndAnObject) {
    const auto gcs = image_source("gs://acme-images/macos/sequoia-xcode-16.tvm");
    EXPECT_EQ(gcs.kind, ImageSource::Kind::gcs);
    EXPECT_EQ(gcs.bucket, "acme-images");
    EXPECT_EQ(gcs.object, "macos/sequoia-xcode-16.tvm");
    const auto s3 = image_source("s3://acme.images.eu/sonoma.tvm");
    EXPECT_EQ(s3.kind, ImageSource::Kind::s3);
    EXPECT_EQ(s3.bucket, "acme.images.eu");
    EXPECT_EQ(s3.object, "sonoma.tvm");
    EXPECT_TRUE(s3.in_bucket());
    EXPECT_EQ(image_source("gs://a_b-c/x").bucket, "a_b-c") << "Cloud Storage allows '_'";
}

TEST(ImageSource, MalformedUrlsAreRefusedSayingWhy) {
    const std::pair<const char*, const char*> refused[] = {
        {"http://example.com/x.tvm", "not http://"},
        {"gs://ab/x", "3 to 63 characters"},
        {"gs://" "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij" "abcd/x", "3 to 63"},
        {"gs://Acme/x", "lowercase letters"},
        {"s3://a_b-c/x", "lowercase letters, digits, '-' and '.' only"},
        {"gs://-acme/x", "starts and ends with a letter or a digit"},
        {"s3://acme..images/x", "no '..'"},
        {"s3://192.168.1.10/x", "not an IP address"},
        {"gs://acme-goog-images/x", ""}, // "goog" only as a prefix is refused
        {"gs://googimages/x", "does not start with \"goog\""},
        {"gs://acme-images", "path after the bucket is missing"},
        {"gs://acme-images/", "path after the bucket is missing"},
        {"gs://acme-images//x.tvm", "empty segment"},
        {"gs://acme-images/x/", "empty segment"},
        {"gs://acme-images/../secrets.tvm", "no '.' or '..' segment"},
        {"s3://acme-images/a/./b.tvm", "no '.' or '..' segment"},
        {"s3://acme-images/x.tvm?versionId=3", "no query or fragment"},
        {"s3://acme-images/x.tvm#part", "no query or fragment"},
    };
    for (const auto& [name, why] : refused) {
        const auto problem = image_source_problem(name);
        if (std::string_view{why}.empty()) {
            EXPECT_EQ(problem, "") << name;
            continue;
        }
        EXPECT_NE(problem.find(why), std::string::npos) << name << ": " << problem;
        try {
            image_source(name, "pools[0].image");
            ADD_FAILURE() << name << " was not refused";
        } catch (const macvmorx::InvalidInput& error) {
            EXPECT_EQ(error.kind(), macvmorx::InvalidInput::Kind::out_of_range);
            EXPECT_EQ(error.field(), "pools[0].image");
            EXPECT_NE(std::string{error.what()}.find(name), std::string::npos) << error.what();
        }
    }
}

TEST(ImageSource, EachObjectHasAStableLocalNameTartTakes) {
    const auto name = local_vm_name(image_source("gs://acme-images/macos/Sequoia_Xcode-16.tvm"));
    EXPECT_EQ(name.find('/'), std::string::npos) << name;
    // The same in every run and on every machine: the scheme, bucket and file's stem, then the
    // FNV-1a (64 bits) of the whole URL, 12 hex digits from the lowest (computed apart, in Python).
    EXPECT_EQ(name, "gs-acme-images-sequoia_xcode-16-554124f4058a");
    std::set<std::string> names;
    for (const char* url : {"gs://acme-images/a/b.tvm", "gs://acme-images/a_b.tvm", "gs://acme-images/A/b.tvm",
                            "s3://acme-images/a/b.tvm", "gs://acme-images/c/b.tvm", "gs://acme-images/a/b.ipsw"}) {
        names.insert(local_vm_name(image_source(url)));
    }
    EXPECT_EQ(names.size(), 6u) << "two objects shared a local name";
}

TEST(ImageSource, AnIpswObjectIsARestoreImageAnyOtherAVmArchive) {
    using macvmorx::protocol::is_restore_image;
    EXPECT_TRUE(is_restore_image(image_source("gs://acme-images/restore/UniversalMac_15.1_24B83_Restore.ipsw")));
    EXPECT_TRUE(is_restore_image(image_source("s3://images/Restore.IPSW")));
    EXPECT_FALSE(is_restore_image(image_source("s3://images/macos/sequoia.tvm")));
    EXPECT_FALSE(is_restore_image(image_source("s3://images/ipsw")));
    EXPECT_FALSE(is_restore_image(image_source("ghcr.io/acme/restore.ipsw"))) << "an OCI reference is pulled, whatever its name";
}
