#include "macvmorx/object_store/s3_settings.hpp"

#include <fstream>
#include <map>
#include <stdexcept>

namespace macvmorx::object_store {
namespace {

std::string trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) return {};
    return std::string(text.substr(first, text.find_last_not_of(" \t\r") - first + 1));
}

// The `key = value` lines of one `[profile]` section of an INI file, as the AWS CLI writes it.
std::map<std::string, std::string> read_profile(const std::string& path, const std::string& profile, bool& found) {
    std::map<std::string, std::string> values;
    std::ifstream file(path);
    found = false;
    if (!file) return values;
    std::string line;
    bool inside = false;
    while (std::getline(file, line)) {
        const auto text = trim(line);
        if (text.empty() || text.front() == '#' || text.front() == ';') continue;
        if (text.front() == '[' && text.back() == ']') {
            inside = trim(std::string_view{text}.substr(1, text.size() - 2)) == profile;
            found = found || inside;
            continue;
        }
        if (!inside) continue;
        const auto equals = text.find('=');
        if (equals == std::string::npos) continue;
        values[trim(std::string_view{text}.substr(0, equals))] = trim(std::string_view{text}.substr(equals + 1));
    }
    return values;
}

} // namespace

S3Settings s3_settings(const Environment& environment) {
    const auto variable = [&environment](const char* name) -> std::string {
        const char* value = environment(name);
        return value == nullptr ? std::string{} : std::string{value};
    };
    S3Settings settings;
    if (auto region = variable("AWS_REGION"); !region.empty()) {
        settings.region = region;
    } else if (auto fallback = variable("AWS_DEFAULT_REGION"); !fallback.empty()) {
        settings.region = fallback;
    }
    settings.endpoint = variable("AWS_ENDPOINT_URL_S3");
    if (settings.endpoint.empty()) settings.endpoint = variable("AWS_ENDPOINT_URL");

    auto& credentials = settings.credentials;
    credentials.access_key_id = variable("AWS_ACCESS_KEY_ID");
    credentials.secret_access_key = variable("AWS_SECRET_ACCESS_KEY");
    if (!credentials.access_key_id.empty() || !credentials.secret_access_key.empty()) {
        if (credentials.access_key_id.empty() || credentials.secret_access_key.empty()) {
            throw std::runtime_error("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together: one of them is unset");
        }
        credentials.session_token = variable("AWS_SESSION_TOKEN");
        settings.credentials_from = "the AWS_* environment variables";
        return settings;
    }

    std::string path = variable("AWS_SHARED_CREDENTIALS_FILE");
    if (path.empty()) {
        const std::string home = variable("HOME");
        if (home.empty()) return settings;
        path = home + "/.aws/credentials";
    }
    std::string profile = variable("AWS_PROFILE");
    if (profile.empty()) profile = "default";
    bool found = false;
    const auto values = read_profile(path, profile, found);
    if (!found) return settings; // no file, or not this profile: anonymous, as for a public bucket
    const auto value = [&values](const char* key) {
        const auto it = values.find(key);
        return it == values.end() ? std::string{} : it->second;
    };
    credentials.access_key_id = value("aws_access_key_id");
    credentials.secret_access_key = value("aws_secret_access_key");
    credentials.session_token = value("aws_session_token");
    if (credentials.access_key_id.empty() || credentials.secret_access_key.empty()) {
        throw std::runtime_error("profile [" + profile + "] of " + path +
                                 " needs aws_access_key_id and aws_secret_access_key");
    }
    settings.credentials_from = "profile [" + profile + "] of " + path;
    return settings;
}

} // namespace macvmorx::object_store
