// Where the agent finds its S3 credentials, region and endpoint: as AWS's tools do.

#include "macvmorx/object_store/s3_settings.hpp"

#include "fake_environment.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <unistd.h>

using macvmorx::object_store::s3_settings;
using macvmorx::testing::FakeEnvironment;

namespace {

std::string write_credentials(const std::string& text) {
    const auto path = std::filesystem::temp_directory_path() /
                      ("macvmorx-aws-" + std::to_string(::getpid()) + "-" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::ofstream{path} << text;
    return path.string();
}

} // namespace

TEST(S3Settings, TheEnvironmentComesFirst) {
    FakeEnvironment environment{{{"AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"},
                                 {"AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
                                 {"AWS_SESSION_TOKEN", "token"},
                                 {"AWS_DEFAULT_REGION", "eu-west-1"},
                                 {"AWS_ENDPOINT_URL", "http://127.0.0.1:9000"},
                                 {"AWS_SHARED_CREDENTIALS_FILE", write_credentials("[default]\naws_access_key_id = X\n")}}};
    const auto settings = s3_settings(environment.reader());
    EXPECT_EQ(settings.credentials.access_key_id, "AKIAIOSFODNN7EXAMPLE");
    EXPECT_EQ(settings.credentials.session_token, "token");
    EXPECT_EQ(settings.region, "eu-west-1");
    EXPECT_EQ(settings.endpoint, "http://127.0.0.1:9000");
    EXPECT_EQ(settings.credentials_from, "the AWS_* environment variables");

    environment.variables["AWS_REGION"] = "us-west-2";
    environment.variables["AWS_ENDPOINT_URL_S3"] = "http://127.0.0.1:9100";
    const auto specific = s3_settings(environment.reader());
    EXPECT_EQ(specific.region, "us-west-2") << "AWS_REGION before AWS_DEFAULT_REGION";
    EXPECT_EQ(specific.endpoint, "http://127.0.0.1:9100") << "the S3 endpoint before the general one";
}

TEST(S3Settings, ElseTheProfileOfTheSharedCredentialsFile) {
    const auto file = write_credentials("# made by aws configure\n[default]\naws_access_key_id = AKIDDEFAULT\n"
                                        "aws_secret_access_key = secret-default\n\n[ci]\n"
                                        "aws_access_key_id=AKIDCI\naws_secret_access_key = secret-ci \n"
                                        "aws_session_token = session\n");
    FakeEnvironment environment{{{"AWS_SHARED_CREDENTIALS_FILE", file}}};
    EXPECT_EQ(s3_settings(environment.reader()).credentials.access_key_id, "AKIDDEFAULT");
    environment.variables["AWS_PROFILE"] = "ci";
    const auto settings = s3_settings(environment.reader());
    EXPECT_EQ(settings.credentials.access_key_id, "AKIDCI");
    EXPECT_EQ(settings.credentials.secret_access_key, "secret-ci");
    EXPECT_EQ(settings.credentials.session_token, "session");
    EXPECT_EQ(settings.credentials_from, "profile [ci] of " + file);
    EXPECT_EQ(settings.region, "us-east-1");
    EXPECT_EQ(settings.endpoint, "") << "AWS itself";
}

TEST(S3Settings, NoCredentialsAnywhereIsAnonymousButHalfACredentialIsRefused) {
    FakeEnvironment nothing{{{"HOME", "/nonexistent-home"}}};
    EXPECT_EQ(s3_settings(nothing.reader()).credentials.access_key_id, "");
    EXPECT_EQ(s3_settings(nothing.reader()).credentials_from, "");

    FakeEnvironment half{{{"AWS_ACCESS_KEY_ID", "AKID"}}};
    EXPECT_THROW(s3_settings(half.reader()), std::runtime_error);
    FakeEnvironment no_secret{{{"AWS_SHARED_CREDENTIALS_FILE", write_credentials("[default]\naws_access_key_id = AKID\n")}}};
    try {
        s3_settings(no_secret.reader());
        ADD_FAILURE() << "a profile without its secret was taken";
    } catch (const std::runtime_error& error) {
        EXPECT_NE(std::string{error.what()}.find("profile [default]"), std::string::npos) << error.what();
    }
}
