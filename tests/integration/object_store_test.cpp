// Images from an S3-compatible bucket, against s3rver (a third-party S3 server, run on a loopback
// port): what an object is, its download streamed to disk, cut, resumed, retried and verified.

#include "object_store_helpers.hpp"
#include "test_directory.hpp"
#include "s3rver.hpp"

#include "macvmorx/base/clock.hpp"
#include "macvmorx/object_store/object_download.hpp"
#include "macvmorx/object_store/s3_reader.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

namespace fs = std::filesystem;
using macvmorx::SystemClock;
using macvmorx::object_store::ChecksumKind;
using macvmorx::object_store::ChecksumMismatch;
using macvmorx::object_store::download_object;
using macvmorx::object_store::DownloadOptions;
using macvmorx::object_store::DownloadProgress;
using macvmorx::object_store::ObjectReader;
using macvmorx::object_store::ObjectSink;
using macvmorx::object_store::ObjectStoreError;
using macvmorx::object_store::ObjectVersion;
using macvmorx::object_store::S3Reader;
using macvmorx::testing::CuttingReader;
using macvmorx::testing::file_bytes;
using macvmorx::testing::random_bytes;
using macvmorx::testing::S3rver;

namespace {

class ObjectStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        destination_ = directory_ / "sequoia.tvm";
        server_.put("images", "macos/sequoia.tvm", object_);
    }

    // Waits are recorded, not slept.
    DownloadOptions options() {
        DownloadOptions result;
        result.sleep = [this](macvmorx::Duration wait) { waits_.push_back(wait); };
        return result;
    }

    bool leftovers() const {
        return fs::exists(fs::path{destination_} += ".part") || fs::exists(fs::path{destination_} += ".part.version");
    }

    S3rver server_{{"images"}};
    SystemClock clock_;
    S3Reader reader_{server_.settings(), clock_};
    const std::string object_ = random_bytes(3 * 1024 * 1024 + 123, 1);
    macvmorx::testing::TestDirectory directory_{"download"};
    fs::path destination_;
    std::vector<macvmorx::Duration> waits_;
};

TEST_F(ObjectStoreTest, WhatAnObjectIsItsSizeVersionAndTheChecksumsTheStoreKeeps) {
    const auto version = reader_.stat("images", "macos/sequoia.tvm");
    EXPECT_EQ(version.size, object_.size());
    EXPECT_FALSE(version.version.empty());
    ASSERT_EQ(version.checksums.size(), 1u); // a single-part upload's ETag: its MD5
    EXPECT_EQ(version.checksums[0].kind, ChecksumKind::md5);
    EXPECT_EQ(version.checksums[0].source, "S3 ETag");

    // A `.sha256` sidecar beside it is a second checksum.
    server_.put("images", "macos/sequoia.tvm.sha256",
                std::string(64, 'a') + "  sequoia.tvm\n");
    const auto with_sidecar = reader_.stat("images", "macos/sequoia.tvm");
    ASSERT_EQ(with_sidecar.checksums.size(), 2u);
    EXPECT_EQ(with_sidecar.checksums[1].kind, ChecksumKind::sha256);
    EXPECT_EQ(with_sidecar.checksums[1].value, std::string(64, 'a'));
}

TEST_F(ObjectStoreTest, AnObjectIsStreamedToDiskVerifiedAndGivenItsNameOnlyWhenWhole) {
    std::vector<DownloadProgress> progress;
    auto download_options = options();
    download_options.progress = [&progress](const DownloadProgress& step) { progress.push_back(step); };

    const auto result = download_object(reader_, "images", "macos/sequoia.tvm", destination_, download_options);

    EXPECT_EQ(file_bytes(destination_), object_);
    EXPECT_FALSE(leftovers());
    EXPECT_EQ(result.resumed_from, 0u);
    EXPECT_EQ(result.transferred, object_.size());
    EXPECT_EQ(result.attempts, 2); // what it is, then its bytes
    EXPECT_EQ(result.checksums.size, object_.size());
    EXPECT_EQ("\"" + result.checksums.md5_hex() + "\"", reader_.stat("images", "macos/sequoia.tvm").version);
    ASSERT_FALSE(progress.empty());
    EXPECT_EQ(progress.back().bytes, object_.size());
    EXPECT_EQ(progress.back().total, object_.size());
    EXPECT_DOUBLE_EQ(progress.back().fraction(), 1.0);
    EXPECT_TRUE(waits_.empty());
}

TEST_F(ObjectStoreTest, ACutTransferIsTakenUpWhereItStoppedAfterAWaitThatDoubles) {
    CuttingReader cutting{reader_, 1024 * 1024, 2};
    const auto result = download_object(cutting, "images", "macos/sequoia.tvm", destination_, options());

    EXPECT_EQ(file_bytes(destination_), object_);
    EXPECT_EQ(cutting.offsets, (std::vector<std::uint64_t>{0, 1024 * 1024, 2 * 1024 * 1024}));
    EXPECT_EQ(result.transferred, object_.size()); // nothing taken twice
    EXPECT_EQ(waits_, (std::vector<macvmorx::Duration>{std::chrono::seconds{1}, std::chrono::seconds{2}}));
}

TEST_F(ObjectStoreTest, AnAgentRestartedMidwayResumesWithARangeRequest) {
    // The first run is cut and gives up (its only attempt): the part stays on disk.
    CuttingReader cutting{reader_, 1024 * 1024, 1};
    auto one_attempt = options();
    one_attempt.attempts = 2; // the stat and one read
    EXPECT_THROW(download_object(cutting, "images", "macos/sequoia.tvm", destination_, one_attempt), ObjectStoreError);
    EXPECT_FALSE(fs::exists(destination_));
    EXPECT_EQ(fs::file_size(fs::path{destination_} += ".part"), 1024u * 1024u);

    // The next run (a new reader, as after a restart) asks only for the rest.
    S3Reader restarted{server_.settings(), clock_};
    CuttingReader watched{restarted, 0, 0};
    const auto result = download_object(watched, "images", "macos/sequoia.tvm", destination_, options());
    EXPECT_EQ(watched.offsets, (std::vector<std::uint64_t>{1024 * 1024}));
    EXPECT_EQ(result.resumed_from, 1024u * 1024u);
    EXPECT_EQ(result.transferred, object_.size() - 1024 * 1024);
    EXPECT_EQ(file_bytes(destination_), object_);
    EXPECT_FALSE(leftovers());
}

TEST_F(ObjectStoreTest, APartDamagedOnDiskFailsTheChecksumNamingBothValuesAndIsDeleted) {
    CuttingReader cutting{reader_, 1024 * 1024, 1};
    auto one_attempt = options();
    one_attempt.attempts = 2;
    EXPECT_THROW(download_object(cutting, "images", "macos/sequoia.tvm", destination_, one_attempt), ObjectStoreError);
    {
        std::fstream part(fs::path{destination_} += ".part", std::ios::in | std::ios::out | std::ios::binary);
        part.seekp(1000);
        part.put(static_cast<char>(object_[1000] ^ 0x5A));
    }
    const std::string etag = reader_.stat("images", "macos/sequoia.tvm").version;
    try {
        download_object(reader_, "images", "macos/sequoia.tvm", destination_, options());
        FAIL() << "a damaged download was accepted";
    } catch (const ChecksumMismatch& error) {
        const std::string message = error.what();
        EXPECT_NE(message.find("s3://images/macos/sequoia.tvm"), std::string::npos) << message;
        EXPECT_NE(message.find("S3 ETag"), std::string::npos) << message;
        EXPECT_NE(message.find(etag.substr(1, 32)), std::string::npos) << message; // what the store says
    }
    EXPECT_FALSE(fs::exists(destination_));
    EXPECT_FALSE(leftovers());
}

TEST_F(ObjectStoreTest, ASidecarThatDisagreesIsAMismatchEvenWhenTheEtagAgrees) {
    server_.put("images", "macos/sequoia.tvm.sha256", std::string(64, 'b') + "\n");
    try {
        download_object(reader_, "images", "macos/sequoia.tvm", destination_, options());
        FAIL() << "a download the sidecar disagrees with was accepted";
    } catch (const ChecksumMismatch& error) {
        EXPECT_NE(std::string{error.what()}.find(".sha256"), std::string::npos) << error.what();
        EXPECT_NE(std::string{error.what()}.find(std::string(64, 'b')), std::string::npos) << error.what();
    }
    EXPECT_FALSE(fs::exists(destination_));
}

TEST_F(ObjectStoreTest, AnObjectReplacedBetweenRunsIsDownloadedAfreshNotSpliced) {
    CuttingReader cutting{reader_, 1024 * 1024, 1};
    auto one_attempt = options();
    one_attempt.attempts = 2;
    EXPECT_THROW(download_object(cutting, "images", "macos/sequoia.tvm", destination_, one_attempt), ObjectStoreError);

    const std::string replacement = random_bytes(2 * 1024 * 1024, 2);
    server_.put("images", "macos/sequoia.tvm", replacement);
    const auto result = download_object(reader_, "images", "macos/sequoia.tvm", destination_, options());
    EXPECT_EQ(result.resumed_from, 0u);
    EXPECT_EQ(file_bytes(destination_), replacement);
}

TEST_F(ObjectStoreTest, WrongCredentialsAreRefusedWithWhereTheyCameFrom) {
    S3Reader wrong{server_.settings("AKIDNOTKNOWNHERE"), clock_};
    try {
        download_object(wrong, "images", "macos/sequoia.tvm", destination_, options());
        FAIL() << "an unknown access key was accepted";
    } catch (const ObjectStoreError& error) {
        EXPECT_EQ(error.kind(), ObjectStoreError::Kind::denied);
        EXPECT_NE(std::string{error.what()}.find("403"), std::string::npos) << error.what();
        EXPECT_NE(std::string{error.what()}.find("credentials from the test"), std::string::npos) << error.what();
    }
    EXPECT_TRUE(waits_.empty()); // no point in asking again
    EXPECT_FALSE(fs::exists(destination_));
}

TEST_F(ObjectStoreTest, AMissingObjectIsNotFoundAndNothingIsWritten) {
    try {
        download_object(reader_, "images", "macos/none.tvm", destination_, options());
        FAIL() << "a missing object was downloaded";
    } catch (const ObjectStoreError& error) {
        EXPECT_EQ(error.kind(), ObjectStoreError::Kind::not_found) << error.what();
        EXPECT_NE(std::string{error.what()}.find("s3://images/macos/none.tvm"), std::string::npos) << error.what();
    }
    EXPECT_FALSE(fs::exists(destination_));
    EXPECT_FALSE(leftovers());
}

TEST_F(ObjectStoreTest, AnUnreachableStoreIsTriedAgainThenReported) {
    auto settings = server_.settings();
    settings.endpoint = "http://127.0.0.1:1"; // nothing listens there
    S3Reader unreachable{settings, clock_, std::chrono::seconds{2}};
    auto three = options();
    three.attempts = 3;
    try {
        download_object(unreachable, "images", "macos/sequoia.tvm", destination_, three);
        FAIL() << "an unreachable store gave an object";
    } catch (const ObjectStoreError& error) {
        EXPECT_EQ(error.kind(), ObjectStoreError::Kind::transient) << error.what();
    }
    EXPECT_EQ(waits_, (std::vector<macvmorx::Duration>{std::chrono::seconds{1}, std::chrono::seconds{2}}));
}

} // namespace
