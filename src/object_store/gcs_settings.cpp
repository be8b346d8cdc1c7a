#include "macvmorx/object_store/gcs_settings.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace macvmorx::object_store {
namespace {

// The key file's text and its kind; throws with what is wrong with it.
void read_key_file(const std::string& path, GcsSettings& settings) {
    std::ifstream file(path);
    if (!file) throw std::runtime_error("cannot read the Google credentials file " + path);
    settings.key_json.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
    const auto key = nlohmann::json::parse(settings.key_json, nullptr, false);
    if (!key.is_object()) throw std::runtime_error("the Google credentials file " + path + " is not JSON");
    const std::string type = key.value("type", "");
    const auto need = [&](std::initializer_list<const char*> fields) {
        for (const char* field : fields) {
            if (!key.contains(field) || !key[field].is_string() || key[field].get<std::string>().empty()) {
                throw std::runtime_error("the Google credentials file " + path + " (" + type + ") lacks \"" + field + "\"");
            }
        }
    };
    if (type == "service_account") {
        need({"client_email", "private_key"});
        settings.credentials = GcsSettings::Credentials::service_account;
    } else if (type == "authorized_user") {
        need({"client_id", "client_secret", "refresh_token"});
        settings.credentials = GcsSettings::Credentials::authorized_user;
    } else {
        throw std::runtime_error("the Google credentials file " + path + " is of type \"" + type +
                                 "\"; the agent takes a service account's key (\"service_account\") or gcloud's "
                                 "application default credentials (\"authorized_user\"), or a token command "
                                 "(MACVMORX_GCS_TOKEN_COMMAND)");
    }
    settings.credentials_from = path;
}

} // namespace

GcsSettings gcs_settings(const Environment& environment) {
    const auto variable = [&environment](const char* name) -> std::string {
        const char* value = environment(name);
        return value == nullptr ? std::string{} : std::string{value};
    };
    GcsSettings settings;
    const bool emulator = environment("STORAGE_EMULATOR_HOST") != nullptr;
    if (emulator) {
        std::string host = variable("STORAGE_EMULATOR_HOST");
        if (host.find("://") == std::string::npos) host = "http://" + host;
        while (host.ends_with('/')) host.pop_back();
        settings.endpoint = host;
    }

    if (auto command = variable("MACVMORX_GCS_TOKEN_COMMAND"); !command.empty()) {
        settings.credentials = GcsSettings::Credentials::command;
        settings.token_command = std::move(command);
        settings.credentials_from = "the command in MACVMORX_GCS_TOKEN_COMMAND";
        return settings;
    }
    if (const auto path = variable("GOOGLE_APPLICATION_CREDENTIALS"); !path.empty()) {
        read_key_file(path, settings);
        return settings;
    }
    if (emulator) return settings; // an emulator wants none, and a developer's gcloud login is not for it
    std::string config = variable("CLOUDSDK_CONFIG");
    if (config.empty()) {
        const std::string home = variable("HOME");
        if (home.empty()) return settings;
        config = home + "/.config/gcloud";
    }
    const std::string well_known = config + "/application_default_credentials.json";
    std::error_code missing;
    if (std::filesystem::exists(well_known, missing)) read_key_file(well_known, settings);
    return settings;
}

} // namespace macvmorx::object_store
