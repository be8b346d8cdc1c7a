// Images from Google Cloud Storage through its JSON API, against the stand-in of
// fake_cloud_storage.hpp on a loopback port, which Google's own Node.js client checks first:
// what an object is, its download verified, resumed with Range, held to one generation, and the
// three ways the agent gets a token (a service account's key, gcloud's authorized user, a command).

#include "fake_cloud_storage.hpp"
#include "object_store_helpers.hpp"
#include "test_directory.hpp"
#include "test_keys.hpp"

#include "macvmorx/base/clock.hpp"
#include "macvmorx/base/hex.hpp"
#include "macvmorx/object_store/gcs_reader.hpp"
#include "macvmorx/object_store/object_download.hpp"
#include "macvmorx/object_store/sigv4.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>
#include <sys/wait.h>
#include <filesystem>
#include <fstream>
#include <map>

namespace fs = std::filesystem;
using macvmorx::SystemClock;
using macvmorx::object_store::ChecksumKind;
using macvmorx::object_store::ChecksumMismatch;
using macvmorx::object_store::download_object;
using macvmorx::object_store::DownloadOptions;
using macvmorx::object_store::GcsReader;
using macvmorx::object_store::GcsSettings;
using macvmorx::object_store::ObjectStoreError;
using macvmorx::testing::CuttingReader;
using macvmorx::testing::FakeCloudStorage;
using macvmorx::testing::file_bytes;
using macvmorx::testing::random_bytes;

namespace {

struct CommandResult {
    int status = -1;
    std::string output; // stdout and stderr
};

CommandResult run(const std::string& command) {
    CommandResult result;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr) return result;
    char buffer[4096];
    while (const auto got = std::fread(buffer, 1, sizeof buffer, pipe)) result.output.append(buffer, got);
    const int status = ::pclose(pipe);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

class CloudStorageTest : public ::testing::Test {
protected:
    void SetUp() override {
        destination_ = directory_ / "sequoia.tvm";
        storage_.put("images", "macos/sequoia.tvm", object_);
    }

    GcsSettings settings() const {
        GcsSettings result;
        result.endpoint = storage_.url();
        return result;
    }
    // Waits are recorded, not slept.
    DownloadOptions options() {
        DownloadOptions result;
        result.sleep = [this](macvmorx::Duration wait) { waits_.push_back(wait); };
        return result;
    }
    // A key file as the Cloud console gives it, its token_uri the stand-in's.
    std::string key_file(const std::string& type, const std::map<std::string, std::string>& fields) const {
        nlohmann::json key(fields);
        key["type"] = type;
        key["token_uri"] = storage_.url() + "/token";
        const auto path = directory_ / (type + ".json");
        std::ofstream(path) << key.dump(2);
        return path.string();
    }

    FakeCloudStorage storage_;
    SystemClock clock_;
    const std::string object_ = random_bytes(3 * 1024 * 1024 + 321, 3);
    macvmorx::testing::TestDirectory directory_{"gcs"};
    fs::path destination_;
    std::vector<macvmorx::Duration> waits_;
};

TEST_F(CloudStorageTest, GooglesOwnClientDownloadsFromTheStandInAndAgreesWithItsChecksums) {
    const std::string script = std::string{MACVMORX_STAND_INS_DIR} + "/gcs-download.js";
    const std::string emulator = "STORAGE_EMULATOR_HOST=" + storage_.url() + " ";
    const auto result = run(emulator + "node " + script + " images macos/sequoia.tvm");
    ASSERT_EQ(result.status, 0) << result.output;
    const auto answer = nlohmann::json::parse(result.output);
    EXPECT_EQ(answer["size"], std::to_string(object_.size()));
    EXPECT_EQ(answer["generation"], storage_.generation("images", "macos/sequoia.tvm"));
    EXPECT_EQ(answer["sha256Crc32c"], macvmorx::object_store::sha256_hex(object_));
    EXPECT_EQ(answer["sha256Md5"], macvmorx::object_store::sha256_hex(object_));
    EXPECT_EQ(answer["range"], macvmorx::to_hex(reinterpret_cast<const unsigned char*>(object_.data()) + 10, 90));
    // The client asked for the range with the header the stand-in reads.
    const auto ranges = storage_.media_ranges();
    EXPECT_NE(std::find(ranges.begin(), ranges.end(), "bytes=10-99"), ranges.end());

    // And it does check: damaged bytes fail its validation, so the checksums above were compared.
    storage_.corrupt("images", "macos/sequoia.tvm");
    const auto damaged = run(emulator + "node " + script + " images macos/sequoia.tvm");
    EXPECT_EQ(damaged.status, 1) << damaged.output;
    EXPECT_NE(damaged.output.find("CONTENT_DOWNLOAD_MISMATCH"), std::string::npos) << damaged.output;
}

TEST_F(CloudStorageTest, WhatAnObjectIsItsSizeGenerationCrc32cAndMd5) {
    GcsReader reader{settings(), clock_};
    const auto version = reader.stat("images", "macos/sequoia.tvm");
    EXPECT_EQ(version.size, object_.size());
    EXPECT_EQ(version.version, storage_.generation("images", "macos/sequoia.tvm"));
    ASSERT_EQ(version.checksums.size(), 2u);
    EXPECT_EQ(version.checksums[0].kind, ChecksumKind::crc32c);
    EXPECT_EQ(version.checksums[0].source, "Cloud Storage crc32c");
    EXPECT_EQ(version.checksums[1].kind, ChecksumKind::md5);
    EXPECT_EQ(reader.describe("images", "macos/sequoia.tvm"), "gs://images/macos/sequoia.tvm");
}

TEST_F(CloudStorageTest, ACutDownloadResumesWithARangeRequestOfTheSameGenerationAndIsVerified) {
    GcsReader reader{settings(), clock_};
    CuttingReader cutting{reader, 1024 * 1024, 1};
    const auto result = download_object(cutting, "images", "macos/sequoia.tvm", destination_, options());
    EXPECT_EQ(file_bytes(destination_), object_);
    EXPECT_EQ(result.attempts, 3); // the metadata, the cut read, the rest
    EXPECT_EQ(storage_.media_ranges(), (std::vector<std::string>{"bytes=0-", "bytes=1048576-"}));
    EXPECT_EQ(waits_, (std::vector<macvmorx::Duration>{std::chrono::seconds{1}}));
}

TEST_F(CloudStorageTest, AResumedDownloadsChunkManifestIsTheWholeObjects) {
    GcsReader reader{settings(), clock_};
    CuttingReader cutting{reader, 1024 * 1024 + 5, 1};
    auto with_manifest = options();
    with_manifest.manifest_chunk_size = 1024 * 1024;
    const auto result = download_object(cutting, "images", "macos/sequoia.tvm", destination_, with_manifest);
    const auto& manifest = result.manifest;
    EXPECT_EQ(manifest.object, "gs://images/macos/sequoia.tvm");
    EXPECT_EQ(manifest.version, storage_.generation("images", "macos/sequoia.tvm"));
    EXPECT_EQ(manifest.size, object_.size());
    ASSERT_EQ(manifest.chunks.size(), 4u);
    for (std::size_t i = 0; i < manifest.chunks.size(); ++i) {
        EXPECT_EQ(manifest.chunks[i], macvmorx::object_store::chunk_hash(std::string_view{object_}.substr(i * 1024 * 1024, 1024 * 1024)))
            << "chunk " << i;
    }
}

TEST_F(CloudStorageTest, DamagedBytesFailTheCrc32cNamingBothValuesAndNothingIsKept) {
    storage_.corrupt("images", "macos/sequoia.tvm");
    GcsReader reader{settings(), clock_};
    const auto expected = reader.stat("images", "macos/sequoia.tvm").checksums.at(0).value;
    try {
        download_object(reader, "images", "macos/sequoia.tvm", destination_, options());
        FAIL() << "damaged bytes were accepted";
    } catch (const ChecksumMismatch& mismatch) {
        const std::string message = mismatch.what();
        EXPECT_NE(message.find("gs://images/macos/sequoia.tvm"), std::string::npos) << message;
        EXPECT_NE(message.find("Cloud Storage crc32c"), std::string::npos) << message;
        EXPECT_NE(message.find(expected), std::string::npos) << message;
    }
    EXPECT_FALSE(fs::exists(destination_));
    EXPECT_FALSE(fs::exists(fs::path{destination_} += ".part"));
}

TEST_F(CloudStorageTest, AComposedObjectIsVerifiedByItsCrc32cAlone) {
    FakeCloudStorage::Options composed;
    composed.composite = true;
    storage_.put("images", "macos/composed.tvm", object_, composed);
    GcsReader reader{settings(), clock_};
    const auto version = reader.stat("images", "macos/composed.tvm");
    ASSERT_EQ(version.checksums.size(), 1u);
    EXPECT_EQ(version.checksums[0].kind, ChecksumKind::crc32c);
    download_object(reader, "images", "macos/composed.tvm", destination_, options());
    EXPECT_EQ(file_bytes(destination_), object_);
}

TEST_F(CloudStorageTest, AnObjectStoredGzipEncodedIsRefusedSayingHowToUploadIt) {
    FakeCloudStorage::Options gzipped;
    gzipped.content_encoding = "gzip";
    storage_.put("images", "macos/gzipped.tvm", object_, gzipped);
    GcsReader reader{settings(), clock_};
    try {
        reader.stat("images", "macos/gzipped.tvm");
        FAIL() << "a gzip-encoded object was taken";
    } catch (const ObjectStoreError& error) {
        EXPECT_EQ(error.kind(), ObjectStoreError::Kind::refused);
        EXPECT_NE(std::string{error.what()}.find("Content-Encoding gzip"), std::string::npos) << error.what();
    }
}

TEST_F(CloudStorageTest, ANewGenerationUploadedMidwayIsDownloadedAfreshNotSpliced) {
    GcsReader reader{settings(), clock_};
    CuttingReader cutting{reader, 1024 * 1024, 1};
    auto one_attempt = options();
    one_attempt.attempts = 1;
    EXPECT_THROW(download_object(cutting, "images", "macos/sequoia.tvm", destination_, one_attempt), ObjectStoreError);
    EXPECT_TRUE(fs::exists(fs::path{destination_} += ".part"));

    const std::string replacement = random_bytes(2 * 1024 * 1024, 4);
    storage_.put("images", "macos/sequoia.tvm", replacement);
    const auto result = download_object(reader, "images", "macos/sequoia.tvm", destination_, options());
    EXPECT_EQ(result.resumed_from, 0u);
    EXPECT_EQ(file_bytes(destination_), replacement);
}

TEST_F(CloudStorageTest, AGenerationGoneDuringTheDownloadEndsItAsChanged) {
    GcsReader reader{settings(), clock_};
    auto version = reader.stat("images", "macos/sequoia.tvm");
    storage_.put("images", "macos/sequoia.tvm", random_bytes(1000, 5));
    try {
        reader.read("images", "macos/sequoia.tvm", version, 0, [](std::string_view) {});
        FAIL() << "a gone generation was read";
    } catch (const ObjectStoreError& error) {
        EXPECT_EQ(error.kind(), ObjectStoreError::Kind::changed) << error.what();
    }
}

TEST_F(CloudStorageTest, AServiceAccountKeyGetsOneTokenByTheJwtBearerGrantAndANewOneWhenItIsRevoked) {
    const auto& key = macvmorx::testing::shared_rsa_key();
    storage_.add_service_account("images@lab.iam.gserviceaccount.com", key.public_pem);
    storage_.require_tokens();
    auto given = settings();
    given.credentials = GcsSettings::Credentials::service_account;
    given.key_json = file_bytes(key_file("service_account", {{"client_email", "images@lab.iam.gserviceaccount.com"},
                                                             {"private_key", key.private_pem},
                                                             {"private_key_id", "0123abcd"}}));
    given.credentials_from = "the test's key";
    GcsReader reader{given, clock_};
    download_object(reader, "images", "macos/sequoia.tvm", destination_, options());
    EXPECT_EQ(file_bytes(destination_), object_);
    EXPECT_EQ(storage_.tokens_issued(), 1); // kept for the stat and the read

    storage_.revoke_tokens();
    EXPECT_EQ(reader.stat("images", "macos/sequoia.tvm").size, object_.size());
    EXPECT_EQ(storage_.tokens_issued(), 2);
}

TEST_F(CloudStorageTest, AKeyTheTokenServiceDoesNotKnowIsDeniedNamingTheFileAndTheServicesReason) {
    const auto other = macvmorx::testing::make_rsa_key();
    storage_.add_service_account("images@lab.iam.gserviceaccount.com", macvmorx::testing::shared_rsa_key().public_pem);
    storage_.require_tokens();
    auto given = settings();
    given.credentials = GcsSettings::Credentials::service_account;
    given.key_json = file_bytes(key_file("service_account", {{"client_email", "images@lab.iam.gserviceaccount.com"},
                                                             {"private_key", other.private_pem}}));
    given.credentials_from = "/etc/macvmorx/gcs-key.json";
    GcsReader reader{given, clock_};
    try {
        download_object(reader, "images", "macos/sequoia.tvm", destination_, options());
        FAIL() << "a key of another account was taken";
    } catch (const ObjectStoreError& error) {
        const std::string message = error.what();
        EXPECT_EQ(error.kind(), ObjectStoreError::Kind::denied) << message;
        EXPECT_NE(message.find("/etc/macvmorx/gcs-key.json"), std::string::npos) << message;
        EXPECT_NE(message.find("Invalid JWT Signature"), std::string::npos) << message;
    }
    EXPECT_TRUE(waits_.empty()); // no point in asking again
    EXPECT_FALSE(fs::exists(destination_));
}

TEST_F(CloudStorageTest, GcloudsAuthorizedUserGetsATokenByItsRefreshToken) {
    storage_.add_authorized_user("client-1.apps.googleusercontent.com", "secret-1", "refresh-1");
    storage_.require_tokens();
    auto given = settings();
    given.credentials = GcsSettings::Credentials::authorized_user;
    given.key_json = file_bytes(key_file("authorized_user", {{"client_id", "client-1.apps.googleusercontent.com"},
                                                             {"client_secret", "secret-1"},
                                                             {"refresh_token", "refresh-1"}}));
    GcsReader reader{given, clock_};
    EXPECT_EQ(reader.stat("images", "macos/sequoia.tvm").size, object_.size());
    EXPECT_EQ(storage_.tokens_issued(), 1);
}

TEST_F(CloudStorageTest, ATokenCommandsOutputIsTheTokenAndItsFailureIsDenied) {
    storage_.require_tokens();
    storage_.accept_token("ya29.from-gcloud");
    auto given = settings();
    given.credentials = GcsSettings::Credentials::command;
    given.token_command = "printf 'ya29.from-gcloud\\n'";
    GcsReader reader{given, clock_};
    EXPECT_EQ(reader.stat("images", "macos/sequoia.tvm").size, object_.size());

    given.token_command = "echo 'ERROR: (gcloud) You do not currently have an active account selected.' >&2; exit 1";
    GcsReader failing{given, clock_};
    try {
        failing.stat("images", "macos/sequoia.tvm");
        FAIL() << "a failed token command gave a token";
    } catch (const ObjectStoreError& error) {
        EXPECT_EQ(error.kind(), ObjectStoreError::Kind::denied) << error.what();
        EXPECT_NE(std::string{error.what()}.find("exit status 1"), std::string::npos) << error.what();
    }
}

TEST_F(CloudStorageTest, ATokenCommandThatHangsIsStoppedAndTheFetchMayBeTriedAgain) {
    storage_.require_tokens();
    auto given = settings();
    given.credentials = GcsSettings::Credentials::command;
    given.token_command = "exec sleep 30";
    GcsReader reader{given, clock_, std::chrono::seconds{1}};
    try {
        reader.stat("images", "macos/sequoia.tvm");
        FAIL() << "a hung token command gave a token";
    } catch (const ObjectStoreError& error) {
        EXPECT_EQ(error.kind(), ObjectStoreError::Kind::transient) << error.what();
        EXPECT_NE(std::string{error.what()}.find("did not finish in time"), std::string::npos) << error.what();
    }
}

TEST_F(CloudStorageTest, NoCredentialsForAPrivateBucketAreDeniedSayingWhatToGiveTheAgent) {
    storage_.require_tokens();
    GcsReader reader{settings(), clock_};
    try {
        reader.stat("images", "macos/sequoia.tvm");
        FAIL() << "an anonymous request read a private bucket";
    } catch (const ObjectStoreError& error) {
        EXPECT_EQ(error.kind(), ObjectStoreError::Kind::denied) << error.what();
        EXPECT_NE(std::string{error.what()}.find("GOOGLE_APPLICATION_CREDENTIALS"), std::string::npos) << error.what();
    }
}

TEST_F(CloudStorageTest, AMissingObjectIsNotFoundNamingItsUrl) {
    GcsReader reader{settings(), clock_};
    try {
        download_object(reader, "images", "macos/none.tvm", destination_, options());
        FAIL() << "a missing object was downloaded";
    } catch (const ObjectStoreError& error) {
        EXPECT_EQ(error.kind(), ObjectStoreError::Kind::not_found) << error.what();
        EXPECT_NE(std::string{error.what()}.find("gs://images/macos/none.tvm"), std::string::npos) << error.what();
    }
    EXPECT_FALSE(fs::exists(destination_));
}

} // namespace
