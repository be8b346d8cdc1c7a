#pragma once

// Google Cloud Storage's JSON API as a download meets it, on a loopback port, after Google's
// reference (cloud.google.com/storage/docs/json_api/v1/objects/get and .../objects#resource):
// - GET /storage/v1/b/BUCKET/o/OBJECT: the object's metadata, 64-bit numbers as strings,
//   `crc32c` and `md5Hash` base64 (no md5Hash for a composite object);
// - the same with `alt=media`: its bytes, `Range` answered with 206 (cloud.google.com/storage/
//   docs/xml-api/reference-headers), `generation=` held to that generation (404 once it is gone),
//   with the headers x-goog-generation, x-goog-hash and x-goog-stored-content-encoding;
// - the same under /b/... without /storage/v1, where Google's Node.js client sends its requests
//   when STORAGE_EMULATOR_HOST is set (build/cjs/src/storage.js: baseUrl = EMULATOR_HOST);
// - POST /token: Google's OAuth 2.0 token endpoint for the JWT-bearer grant of a service
//   account (developers.google.com/identity/protocols/oauth2/service-account#httprest: the
//   assertion's RS256 signature, iss, aud, scope, an hour at most) and the refresh-token grant;
//   errors as it gives them ({"error": "invalid_grant", "error_description": ...}).
// Errors of the API are {"error": {"code", "message", "errors"}}. The checksums are computed here
// independently of the agent's code (OpenSSL's MD5, a bitwise CRC-32C), and a test has Google's
// own Node.js client check them (cloud_storage_test.cpp).

#include "test_keys.hpp"

#include "macvmorx/http/router.hpp"
#include "macvmorx/http/server.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace macvmorx::testing {

class FakeCloudStorage {
public:
    FakeCloudStorage() {
        for (const std::string prefix : {"/storage/v1", ""}) {
            router_.add({http::Method::get, prefix + "/b/{bucket}/o/{object}",
                         [this](const http::Request& request) { return object(request); }, "object"});
        }
        router_.add({http::Method::post, "/token", [this](const http::Request& request) { return token(request); }, "token",
                     http::Body::any});
        http::ServerOptions options;
        options.bind_address = "127.0.0.1";
        options.port = 0;
        server_ = std::make_unique<http::Server>(options, router_);
        port_ = server_->start();
    }
    ~FakeCloudStorage() { server_->stop(); }

    // "127.0.0.1:PORT", as STORAGE_EMULATOR_HOST takes it.
    std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
    std::string url() const { return "http://" + host(); }

    struct Options {
        bool composite = false;       // made by `gcloud storage objects compose`: crc32c only
        std::string content_encoding; // "gzip": stored compressed
    };

    // Puts an object: a new generation, as an upload makes.
    void put(const std::string& bucket, const std::string& name, std::string bytes) {
        put(bucket, name, std::move(bytes), Options{});
    }
    void put(const std::string& bucket, const std::string& name, std::string bytes, Options options) {
        std::lock_guard lock{mutex_};
        auto& entry = objects_[bucket + "/" + name];
        entry.bytes = std::move(bytes);
        entry.generation = std::to_string(++last_generation_);
        entry.options = options;
        entry.corrupt = false;
    }
    // From now on serves the object's bytes with one of them changed, its metadata unchanged, as
    // a disk or a network that damages data would.
    void corrupt(const std::string& bucket, const std::string& name) {
        std::lock_guard lock{mutex_};
        objects_.at(bucket + "/" + name).corrupt = true;
    }
    std::string generation(const std::string& bucket, const std::string& name) const {
        std::lock_guard lock{mutex_};
        return objects_.at(bucket + "/" + name).generation;
    }

    // Object requests must carry a token this server issued, or one accepted here.
    void require_tokens() {
        std::lock_guard lock{mutex_};
        require_tokens_ = true;
    }
    void accept_token(const std::string& token) {
        std::lock_guard lock{mutex_};
        tokens_.insert(token);
    }
    // Every token issued or accepted so far stops working (revoked).
    void revoke_tokens() {
        std::lock_guard lock{mutex_};
        tokens_.clear();
    }
    // The service account whose JWTs /token takes.
    void add_service_account(const std::string& email, const std::string& public_pem) {
        std::lock_guard lock{mutex_};
        service_accounts_[email] = public_pem;
    }
    // The authorized user (gcloud's application default credentials) whose refresh token /token takes.
    void add_authorized_user(const std::string& client_id, const std::string& client_secret, const std::string& refresh_token) {
        std::lock_guard lock{mutex_};
        users_[client_id] = {client_secret, refresh_token};
    }

    // The Range header of each media request ("" when there was none), in order.
    std::vector<std::string> media_ranges() const {
        std::lock_guard lock{mutex_};
        return ranges_;
    }
    int tokens_issued() const {
        std::lock_guard lock{mutex_};
        return issued_;
    }

private:
    struct Object {
        std::string bytes;
        std::string generation;
        Options options;
        bool corrupt = false;
    };
    struct User {
        std::string secret;
        std::string refresh_token;
    };

    static std::string base64(const unsigned char* data, std::size_t size) {
        std::string text(4 * ((size + 2) / 3), '\0');
        text.resize(static_cast<std::size_t>(
            EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()), data, static_cast<int>(size))));
        return text;
    }
    // CRC-32C bit by bit (RFC 3720 §B.4's polynomial, reflected), big-endian, base64.
    static std::string crc32c_base64(const std::string& bytes) {
        std::uint32_t crc = 0xFFFFFFFFu;
        for (const unsigned char byte : bytes) {
            crc ^= byte;
            for (int bit = 0; bit < 8; ++bit) crc = (crc & 1u) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        }
        crc = ~crc;
        const unsigned char big_endian[4] = {static_cast<unsigned char>(crc >> 24), static_cast<unsigned char>(crc >> 16),
                                             static_cast<unsigned char>(crc >> 8), static_cast<unsigned char>(crc)};
        return base64(big_endian, 4);
    }
    static std::string md5_base64(const std::string& bytes) {
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int length = 0;
        EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_md5(), nullptr);
        return base64(digest, length);
    }

    static http::Response error(int status, const std::string& message, const std::string& reason) {
        return http::Response::json(
            status, nlohmann::json{{"error",
                                    {{"code", status},
                                     {"message", message},
                                     {"errors", {{{"message", message}, {"domain", "global"}, {"reason", reason}}}}}}}
                        .dump());
    }
    static http::Response oauth_error(const std::string& code, const std::string& description) {
        return http::Response::json(400, nlohmann::json{{"error", code}, {"error_description", description}}.dump());
    }

    http::Response object(const http::Request& request) {
        std::lock_guard lock{mutex_};
        if (require_tokens_) {
            const auto authorization = request.header("Authorization");
            if (!authorization || !authorization->starts_with("Bearer ") ||
                tokens_.count(std::string{authorization->substr(7)}) == 0) {
                return error(401, "Invalid Credentials", "authError");
            }
        }
        const std::string bucket{request.path_param("bucket")};
        const std::string name{request.path_param("object")};
        const auto found = objects_.find(bucket + "/" + name);
        const auto wanted = request.query_param("generation");
        if (found == objects_.end() || (wanted && *wanted != found->second.generation)) {
            return error(404, "No such object: " + bucket + "/" + name, "notFound");
        }
        const Object& entry = found->second;
        const std::string crc = crc32c_base64(entry.bytes);
        const std::string md5 = md5_base64(entry.bytes);
        if (request.query_param("alt") != "media") {
            nlohmann::json metadata{{"kind", "storage#object"},
                                    {"id", bucket + "/" + name + "/" + entry.generation},
                                    {"name", name},
                                    {"bucket", bucket},
                                    {"generation", entry.generation},
                                    {"metageneration", "1"},
                                    {"contentType", "application/octet-stream"},
                                    {"storageClass", "STANDARD"},
                                    {"size", std::to_string(entry.bytes.size())},
                                    {"crc32c", crc},
                                    {"etag", "CAE="}};
            if (entry.options.composite) {
                metadata["componentCount"] = 2;
            } else {
                metadata["md5Hash"] = md5;
            }
            if (!entry.options.content_encoding.empty()) metadata["contentEncoding"] = entry.options.content_encoding;
            return http::Response::json(200, metadata.dump());
        }

        std::string bytes = entry.bytes;
        if (entry.corrupt && !bytes.empty()) bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x20);
        const std::string range{request.header("Range").value_or("")};
        ranges_.push_back(range);
        http::Response answer;
        answer.content_type = "application/octet-stream";
        answer.headers.push_back({"x-goog-generation", entry.generation});
        answer.headers.push_back({"x-goog-metageneration", "1"});
        answer.headers.push_back({"x-goog-hash", entry.options.composite ? "crc32c=" + crc : "crc32c=" + crc + ",md5=" + md5});
        answer.headers.push_back({"x-goog-stored-content-encoding",
                                  entry.options.content_encoding.empty() ? "identity" : entry.options.content_encoding});
        answer.headers.push_back({"x-goog-stored-content-length", std::to_string(entry.bytes.size())});
        if (range.starts_with("bytes=")) {
            // "bytes=N-" or "bytes=N-M"
            const auto dash = range.find('-');
            const std::uint64_t first = std::stoull(range.substr(6, dash - 6));
            std::uint64_t last = bytes.empty() ? 0 : bytes.size() - 1;
            if (dash + 1 < range.size()) last = std::min<std::uint64_t>(last, std::stoull(range.substr(dash + 1)));
            if (first >= bytes.size()) {
                answer = error(416, "The requested range cannot be satisfied.", "requestedRangeNotSatisfiable");
                return answer;
            }
            answer.status = 206;
            answer.headers.push_back({"Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" +
                                                           std::to_string(bytes.size())});
            answer.body = bytes.substr(first, last - first + 1);
        } else {
            answer.body = std::move(bytes);
        }
        return answer;
    }

    // An application/x-www-form-urlencoded body's fields.
    static std::map<std::string, std::string> form_fields(const std::string& body) {
        const auto decode = [](const std::string& text) {
            std::string out;
            for (std::size_t i = 0; i < text.size(); ++i) {
                if (text[i] == '+') {
                    out += ' ';
                } else if (text[i] == '%' && i + 2 < text.size()) {
                    out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
                    i += 2;
                } else {
                    out += text[i];
                }
            }
            return out;
        };
        std::map<std::string, std::string> fields;
        std::size_t start = 0;
        while (start < body.size()) {
            const auto end = std::min(body.find('&', start), body.size());
            const auto pair = body.substr(start, end - start);
            const auto equals = pair.find('=');
            fields[decode(pair.substr(0, equals))] = equals == std::string::npos ? "" : decode(pair.substr(equals + 1));
            start = end + 1;
        }
        return fields;
    }

    http::Response token(const http::Request& request) {
        std::lock_guard lock{mutex_};
        auto fields = form_fields(request.body);
        const std::string grant = fields["grant_type"];
        if (grant == "urn:ietf:params:oauth:grant-type:jwt-bearer") {
            const std::string assertion = fields["assertion"];
            const auto first = assertion.find('.');
            const auto second = assertion.find('.', first + 1);
            if (first == std::string::npos || second == std::string::npos) return oauth_error("invalid_grant", "Invalid JWT.");
            const auto claims = nlohmann::json::parse(base64url_decode(assertion.substr(first + 1, second - first - 1)), nullptr, false);
            if (!claims.is_object() || !claims.contains("iss") || !claims["iss"].is_string()) {
                return oauth_error("invalid_grant", "Invalid JWT: no iss.");
            }
            const auto account = service_accounts_.find(claims["iss"].get<std::string>());
            if (account == service_accounts_.end()) return oauth_error("invalid_grant", "Invalid grant: account not found");
            if (!rs256_verifies(assertion, account->second)) return oauth_error("invalid_grant", "Invalid JWT Signature.");
            if (claims.value("aud", std::string{}) != url() + "/token") {
                return oauth_error("invalid_grant", "Invalid JWT: Failed audience check.");
            }
            const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
            const auto iat = claims.value("iat", std::int64_t{0});
            const auto exp = claims.value("exp", std::int64_t{0});
            if (exp - iat > 3600 || exp <= now || iat > now + 300) {
                return oauth_error("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.");
            }
            const std::string scope = claims.value("scope", std::string{});
            if (scope.find("https://www.googleapis.com/auth/devstorage.") == std::string::npos &&
                scope.find("https://www.googleapis.com/auth/cloud-platform") == std::string::npos) {
                return oauth_error("invalid_scope", "No storage scope was asked for.");
            }
        } else if (grant == "refresh_token") {
            const auto user = users_.find(fields["client_id"]);
            if (user == users_.end() || user->second.secret != fields["client_secret"]) {
                return http::Response::json(401, R"({"error":"invalid_client","error_description":"The OAuth client was not found."})");
            }
            if (user->second.refresh_token != fields["refresh_token"]) {
                return oauth_error("invalid_grant", "Token has been expired or revoked.");
            }
        } else {
            return oauth_error("unsupported_grant_type", "Invalid grant_type: " + grant);
        }
        const std::string issued = "ya29.stand-in-" + std::to_string(++issued_);
        tokens_.insert(issued);
        return http::Response::json(200, nlohmann::json{{"access_token", issued}, {"expires_in", 3599}, {"token_type", "Bearer"}}.dump());
    }

    mutable std::mutex mutex_;
    std::map<std::string, Object> objects_;
    std::uint64_t last_generation_ = 1'765'000'000'000'000;
    bool require_tokens_ = false;
    std::set<std::string> tokens_;
    std::map<std::string, std::string> service_accounts_;
    std::map<std::string, User> users_;
    std::vector<std::string> ranges_;
    int issued_ = 0;
    http::Router router_;
    std::unique_ptr<http::Server> server_;
    std::uint16_t port_ = 0;
};

} // namespace macvmorx::testing
