#include "macvmorx/agent/registry_client.hpp"

#include "macvmorx/agent/oci_name.hpp"
#include "macvmorx/base/loopback.hpp"
#include "macvmorx/base/ascii.hpp"
#include "macvmorx/base/byte_size.hpp"
#include "macvmorx/http/web_client.hpp"
#include "macvmorx/object_store/sigv4.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iterator>
#include <map>

namespace macvmorx::agent {
namespace {

constexpr double other_vm_files = 128.0 * 1024 * 1024; // VMStorageOCI.swift's otherVMFilesSize

// The manifest kinds tart pushes and pulls (OCI/Manifest.swift).
constexpr const char* manifest_types = "application/vnd.oci.image.manifest.v1+json";

// "127.0.0.1:5000" -> is the host part loopback?
bool is_loopback(std::string_view host) {
    const auto colon = host.rfind(':');
    if (colon != std::string_view::npos && host.rfind(']') == std::string_view::npos) host = host.substr(0, colon);
    if (host.starts_with('[')) host = host.substr(0, host.find(']') + 1);
    return is_loopback_host(host);
}

std::string base64(std::string_view text) {
    std::string encoded(4 * ((text.size() + 2) / 3), '\0');
    const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                       reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    encoded.resize(static_cast<std::size_t>(length));
    return encoded;
}


// A challenge: `Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull"`
// (RFC 6750 and the Docker token authentication spec, as OCI/WWWAuthenticate.swift reads it).
struct Challenge {
    std::string scheme;
    std::map<std::string, std::string> parameters;
};

Challenge parse_challenge(std::string_view header) {
    Challenge challenge;
    const auto space = header.find(' ');
    challenge.scheme = ascii_lower(header.substr(0, space));
    std::string_view rest = space == std::string_view::npos ? std::string_view{} : header.substr(space + 1);
    while (!rest.empty()) {
        while (!rest.empty() && (rest.front() == ' ' || rest.front() == ',')) rest.remove_prefix(1);
        const auto equals = rest.find('=');
        if (equals == std::string_view::npos) break;
        const std::string key{rest.substr(0, equals)};
        rest.remove_prefix(equals + 1);
        std::string value;
        if (!rest.empty() && rest.front() == '"') {
            rest.remove_prefix(1);
            const auto close = rest.find('"');
            value = std::string{rest.substr(0, close)};
            rest.remove_prefix(close == std::string_view::npos ? rest.size() : close + 1);
        } else {
            const auto comma = rest.find(',');
            value = std::string{rest.substr(0, comma)};
            rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma);
        }
        challenge.parameters[key] = value;
    }
    return challenge;
}

http::BaseUrl registry_url(const std::string& host) {
    return http::BaseUrl::parse((is_loopback(host) ? "http://" : "https://") + host);
}

double size_from(std::string_view text) {
    double value = 0;
    try {
        value = std::stod(std::string{text});
    } catch (const std::exception&) {
        return 0;
    }
    return value > 0 ? value : 0;
}

} // namespace

std::optional<RegistryCredentials> registry_credentials_from_environment() {
    const char* username = std::getenv("TART_REGISTRY_USERNAME");
    const char* password = std::getenv("TART_REGISTRY_PASSWORD");
    if (username == nullptr || password == nullptr) return std::nullopt;
    const char* host = std::getenv("TART_REGISTRY_HOSTNAME");
    return RegistryCredentials{username, password, host == nullptr ? "" : host};
}

std::optional<double> manifest_disk_size_gb(std::string_view manifest) {
    const auto document = nlohmann::json::parse(manifest, nullptr, false);
    if (!document.is_object()) return std::nullopt;
    double bytes = 0;
    if (const auto annotations = document.find("annotations"); annotations != document.end() && annotations->is_object()) {
        const auto size = annotations->find("org.cirruslabs.tart.uncompressed-disk-size");
        if (size != annotations->end() && size->is_string()) bytes = size_from(size->get<std::string>());
    }
    if (bytes <= 0) {
        if (const auto layers = document.find("layers"); layers != document.end() && layers->is_array()) {
            for (const auto& layer : *layers) {
                if (!layer.is_object() || !layer.contains("annotations") || !layer["annotations"].is_object()) continue;
                const auto& annotations = layer["annotations"];
                const auto size = annotations.find("org.cirruslabs.tart.uncompressed-size");
                if (size != annotations.end() && size->is_string()) bytes += size_from(size->get<std::string>());
            }
        }
    }
    if (bytes <= 0) return std::nullopt;
    return (bytes + other_vm_files) / bytes_per_gib;
}

RegistryClient::RegistryClient(std::optional<RegistryCredentials> credentials, Duration timeout)
    : credentials_{std::move(credentials)}, timeout_{timeout} {}

RegistryClient::~RegistryClient() {
    std::vector<Question> questions;
    {
        std::lock_guard lock{mutex_};
        questions = std::move(questions_);
    }
    for (auto& question : questions) question.thread.join();
}

void RegistryClient::image_size_gb(const std::string& image, std::function<void(double)> done) {
    std::vector<Question> answered;
    {
        std::lock_guard lock{mutex_};
        const auto first_answered = std::stable_partition(questions_.begin(), questions_.end(),
                                                          [](const Question& q) { return !q.answered->load(); });
        std::move(first_answered, questions_.end(), std::back_inserter(answered));
        questions_.erase(first_answered, questions_.end());
        auto flag = std::make_shared<std::atomic<bool>>(false);
        questions_.push_back({std::thread{[this, image, flag, done = std::move(done)] {
                                  done(ask(image));
                                  *flag = true;
                              }},
                              flag});
    }
    for (auto& question : answered) question.thread.join();
}

double RegistryClient::ask(const std::string& image) const {
    const auto name = parse_oci_name(image);
    if (!name) return 0; // a local VM: no registry to ask
    const bool with_credentials = credentials_ && (credentials_->only_host.empty() || credentials_->only_host == name->host);
    const http::WebClientOptions options{timeout_, {}, {}, {}};
    try {
        http::WebClient registry{registry_url(name->host), options};
        const std::string target = "/v2/" + name->name + "/manifests/" + name->reference();
        std::vector<http::Header> headers{{"Accept", manifest_types}};
        auto response = registry.request(http::Method::get, target, {}, headers);
        if (response.status == 401) {
            const auto challenge = parse_challenge(response.header("WWW-Authenticate").value_or(""));
            if (challenge.scheme == "basic" && with_credentials) {
                headers.push_back({"Authorization", "Basic " + base64(credentials_->username + ":" + credentials_->password)});
            } else if (challenge.scheme == "bearer" && challenge.parameters.contains("realm")) {
                const std::string& realm = challenge.parameters.at("realm");
                const auto realm_url = http::BaseUrl::parse(realm);
                if (!realm_url.tls && !is_loopback(realm_url.host)) return 0; // a token never travels in clear
                std::string query;
                for (const char* key : {"scope", "service"}) {
                    if (const auto it = challenge.parameters.find(key); it != challenge.parameters.end()) {
                        query += (query.empty() ? "?" : "&") + std::string{key} + "=" + object_store::uri_encode(it->second, false);
                    }
                }
                std::vector<http::Header> token_headers;
                if (with_credentials) {
                    token_headers.push_back(
                        {"Authorization", "Basic " + base64(credentials_->username + ":" + credentials_->password)});
                }
                http::WebClient token_service{realm_url, options};
                const auto token_response = token_service.request(http::Method::get, query, {}, token_headers);
                if (token_response.status != 200) return 0;
                const auto token = nlohmann::json::parse(token_response.body, nullptr, false);
                if (!token.is_object()) return 0;
                std::string bearer = token.value("token", "");
                if (bearer.empty()) bearer = token.value("access_token", "");
                if (bearer.empty()) return 0;
                headers.push_back({"Authorization", "Bearer " + bearer});
            } else {
                return 0;
            }
            response = registry.request(http::Method::get, target, {}, headers);
        }
        if (response.status != 200) {
            spdlog::debug("registry {}: manifest of {}: HTTP {}", name->host, image, response.status);
            return 0;
        }
        return manifest_disk_size_gb(response.body).value_or(0);
    } catch (const std::exception& error) {
        spdlog::debug("registry {}: cannot ask for the manifest of {}: {}", name->host, image, error.what());
        return 0;
    }
}

} // namespace macvmorx::agent
