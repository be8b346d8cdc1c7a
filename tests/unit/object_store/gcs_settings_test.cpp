// Where the agent finds Cloud Storage and its credentials: as Google's client libraries do, plus
// a token command.

#include "macvmorx/object_store/gcs_settings.hpp"

#include "fake_environment.hpp"
#include "test_directory.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <unistd.h>

using macvmorx::object_store::gcs_settings;
using macvmorx::object_store::GcsSettings;
using macvmorx::testing::FakeEnvironment;

namespace {

class GcsSettingsTest : public ::testing::Test {
protected:
    std::string write(const std::string& name, const std::string& text) const {
        const auto path = directory_ / name;
        std::filesystem::create_directories(path.parent_path());
        std::ofstream{path} << text;
        return path.string();
    }

    macvmorx::testing::TestDirectory directory_{"gcs-settings"};
};

} // namespace

TEST_F(GcsSettingsTest, CloudStorageItselfAnonymouslyWhenNothingIsSet) {
    FakeEnvironment environment{{{"HOME", directory_.path().string()}}};
    const auto settings = gcs_settings(environment.reader());
    EXPECT_EQ(settings.endpoint, "https://storage.googleapis.com");
    EXPECT_EQ(settings.credentials, GcsSettings::Credentials::none);
}

TEST_F(GcsSettingsTest, AnEmulatorHostWithoutSchemeIsPlainHttpAsGooglesGoClientReadsIt) {
    FakeEnvironment environment{{{"STORAGE_EMULATOR_HOST", "127.0.0.1:4443"}}};
    EXPECT_EQ(gcs_settings(environment.reader()).endpoint, "http://127.0.0.1:4443");
    environment.variables["STORAGE_EMULATOR_HOST"] = "https://gcs.lab.example:8443/";
    EXPECT_EQ(gcs_settings(environment.reader()).endpoint, "https://gcs.lab.example:8443");
}

TEST_F(GcsSettingsTest, TheKeyFileGoogleApplicationCredentialsNamesIsRead) {
    const auto key = write("key.json", R"({"type": "service_account", "client_email": "images@lab.iam.gserviceaccount.com",
                                            "private_key": "-----BEGIN PRIVATE KEY-----\n..."})");
    FakeEnvironment environment{{{"GOOGLE_APPLICATION_CREDENTIALS", key}}};
    const auto settings = gcs_settings(environment.reader());
    EXPECT_EQ(settings.credentials, GcsSettings::Credentials::service_account);
    EXPECT_EQ(settings.credentials_from, key);
    EXPECT_NE(settings.key_json.find("images@lab"), std::string::npos);
}

TEST_F(GcsSettingsTest, ElseGcloudsApplicationDefaultCredentialsButNotForAnEmulator) {
    write("gcloud/application_default_credentials.json",
          R"({"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"})");
    FakeEnvironment environment{{{"CLOUDSDK_CONFIG", (directory_ / "gcloud").string()}}};
    EXPECT_EQ(gcs_settings(environment.reader()).credentials, GcsSettings::Credentials::authorized_user);

    environment.variables["STORAGE_EMULATOR_HOST"] = "127.0.0.1:4443";
    EXPECT_EQ(gcs_settings(environment.reader()).credentials, GcsSettings::Credentials::none)
        << "a developer's own login is not sent to an emulator";
}

TEST_F(GcsSettingsTest, ATokenCommandComesFirst) {
    FakeEnvironment environment{{{"MACVMORX_GCS_TOKEN_COMMAND", "gcloud auth print-access-token"},
                                 {"GOOGLE_APPLICATION_CREDENTIALS", write("key.json", R"({"type": "service_account"})")}}};
    const auto settings = gcs_settings(environment.reader());
    EXPECT_EQ(settings.credentials, GcsSettings::Credentials::command);
    EXPECT_EQ(settings.token_command, "gcloud auth print-access-token");
}

TEST_F(GcsSettingsTest, AKeyFileThatCannotServeIsRefusedWithTheReason) {
    const auto expect_refused = [&](const std::string& path, const std::string& reason) {
        FakeEnvironment environment{{{"GOOGLE_APPLICATION_CREDENTIALS", path}}};
        try {
            gcs_settings(environment.reader());
            FAIL() << "took " << path;
        } catch (const std::runtime_error& error) {
            EXPECT_NE(std::string{error.what()}.find(reason), std::string::npos) << error.what();
        }
    };
    expect_refused((directory_ / "missing.json").string(), "cannot read");
    expect_refused(write("text.json", "not json"), "is not JSON");
    expect_refused(write("no-key.json", R"({"type": "service_account", "client_email": "a@b"})"), "lacks \"private_key\"");
    expect_refused(write("external.json", R"({"type": "external_account"})"), "\"external_account\"");
}
