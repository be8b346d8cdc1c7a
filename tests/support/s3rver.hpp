#pragma once

// s3rver (npm, github.com/jamhall/s3rver), a third-party S3 server in Node.js, run on a loopback
// port of its own with its data in a temporary directory: the real protocol, signatures checked,
// not a stand-in of ours. scripts/test installs it (npm ci --prefix tests/stand-ins).

#include "daemon_process.hpp"

#include "macvmorx/base/clock.hpp"
#include "macvmorx/http/base_url.hpp"
#include "macvmorx/http/web_client.hpp"
#include "macvmorx/object_store/s3_reader.hpp"
#include "macvmorx/object_store/sigv4.hpp"

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace macvmorx::testing {

class S3rver {
public:
    // The one key pair s3rver accepts (lib/models/account.js: DUMMY_ACCOUNT).
    static constexpr const char* access_key = "S3RVER";
    static constexpr const char* secret_key = "S3RVER";

    explicit S3rver(const std::vector<std::string>& buckets) {
        const std::string script = std::string{MACVMORX_STAND_INS_DIR} + "/node_modules/s3rver/bin/s3rver.js";
        if (!std::filesystem::exists(script)) {
            throw std::runtime_error(script + " is missing: run `npm ci --prefix tests/stand-ins` (scripts/test does)");
        }
        data_ = std::filesystem::temp_directory_path() /
                ("macvmorx-s3rver-" + std::to_string(::getpid()) + "-" + std::to_string(next_id()));
        std::filesystem::create_directories(data_);
        std::vector<std::string> arguments{"node", script, "-d", data_.string(), "-a", "127.0.0.1", "-p", "0"};
        for (const auto& bucket : buckets) {
            arguments.push_back("--configure-bucket");
            arguments.push_back(bucket);
        }
        process_ = std::make_unique<DaemonProcess>("/usr/bin/env", arguments);
        port_ = wait_for_listening();
    }

    ~S3rver() {
        process_.reset();
        std::error_code ignored;
        std::filesystem::remove_all(data_, ignored);
    }

    S3rver(const S3rver&) = delete;
    S3rver& operator=(const S3rver&) = delete;

    std::uint16_t port() const { return port_; }
    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

    // What the agent would read from AWS_ENDPOINT_URL_S3 and AWS_* for this server. s3rver knows
    // one access key and refuses any other (InvalidAccessKeyId), but does not check Signature V4
    // signatures themselves (lib/middleware/authentication.js): AWS's published examples check
    // ours (tests/unit/object_store/sigv4_test.cpp).
    object_store::S3Settings settings(const std::string& key_id = access_key) const {
        object_store::S3Settings settings;
        settings.endpoint = endpoint();
        settings.credentials = {key_id, secret_key, {}};
        settings.credentials_from = "the test";
        return settings;
    }

    // Uploads an object in one PUT, signed as any S3 client signs it.
    void put(const std::string& bucket, const std::string& key, const std::string& body) {
        const auto response = send(http::Method::put, "PUT", bucket, key, body);
        if (response.status != 200) {
            throw std::runtime_error("s3rver refused PUT " + key + ": " + std::to_string(response.status) + " " + response.body);
        }
    }

    // Everything s3rver logged: one line per request it served.
    std::string log() const { return process_->output(); }

private:
    http::ClientResponse send(http::Method method, const std::string& verb, const std::string& bucket,
                              const std::string& key, const std::string& body) {
        const std::string path = "/" + bucket + "/" + object_store::uri_encode(key, true);
        const std::string payload_hash = object_store::sha256_hex(body);
        const object_store::SigV4Scope scope{object_store::amz_date(SystemClock{}.now()), "us-east-1", "s3"};
        const std::string host = "127.0.0.1:" + std::to_string(port_);
        std::vector<std::pair<std::string, std::string>> headers{
            {"Host", host}, {"X-Amz-Content-Sha256", payload_hash}, {"X-Amz-Date", scope.timestamp}};
        const object_store::SigV4Request request{verb, path, {}, headers, payload_hash};
        const auto signature = object_store::sign_v4(request, scope, {access_key, secret_key, {}});
        http::WebClient client{http::BaseUrl::parse(endpoint())};
        return client.request(method, path, body,
                              {{"X-Amz-Content-Sha256", payload_hash},
                               {"X-Amz-Date", scope.timestamp},
                               {"Authorization", signature.authorization}});
    }

    std::uint16_t wait_for_listening() {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{20};
        while (std::chrono::steady_clock::now() < deadline) {
            const std::string text = process_->output();
            const auto at = text.find("listening on 127.0.0.1:");
            if (at != std::string::npos) {
                const auto start = at + std::string_view{"listening on 127.0.0.1:"}.size();
                const auto end = text.find_first_not_of("0123456789", start);
                if (end != std::string::npos && end > start) return static_cast<std::uint16_t>(std::stoi(text.substr(start, end - start)));
            }
            if (process_->wait_for_exit(std::chrono::milliseconds{20})) break;
        }
        throw std::runtime_error("s3rver did not start: " + process_->output());
    }

    static int next_id() {
        static int id = 0;
        return ++id;
    }

    std::filesystem::path data_;
    std::unique_ptr<DaemonProcess> process_;
    std::uint16_t port_ = 0;
};

} // namespace macvmorx::testing
