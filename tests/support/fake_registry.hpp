#pragma once

// An OCI registry as `tart pull` meets it, on a loopback port, for the manifest questions the
// agent asks before a pull. It follows the OCI distribution spec (GET /v2/<name>/manifests/
// <reference>, 404 MANIFEST_UNKNOWN) and Docker's token authentication, as ghcr.io does: a
// manifest without a bearer token is answered 401 with a WWW-Authenticate challenge naming the
// token service, which gives a token to anyone for public images and, for private ones, only
// with the right Basic credentials. Manifests are those `tart push` writes (OCI/Manifest.swift):
// disk layers with "org.cirruslabs.tart.uncompressed-size" and the whole disk's
// "org.cirruslabs.tart.uncompressed-disk-size".

#include "macvmorx/http/router.hpp"
#include "macvmorx/http/server.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <mutex>
#include <string>

namespace macvmorx::testing {

class FakeRegistry {
public:
    FakeRegistry() {
        router_.add({http::Method::get, "/v2/{org}/{repo}/manifests/{reference}",
                     [this](const http::Request& request) {
                         const std::string repository = std::string{request.path_param("org")} + "/" +
                                                        std::string{request.path_param("repo")};
                         std::lock_guard lock{mutex_};
                         ++manifest_requests_;
                         const auto token = request.header("Authorization");
                         if (!token || *token != "Bearer token-for-" + repository) {
                             http::Response refused = http::Response::json(
                                 401, R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})");
                             refused.headers.push_back(
                                 {"WWW-Authenticate", "Bearer realm=\"" + url() + "/token\",service=\"fake-registry\",scope=\"repository:" +
                                                          repository + ":pull\""});
                             return refused;
                         }
                         const auto image = images_.find(repository + ":" + std::string{request.path_param("reference")});
                         if (image == images_.end()) {
                             return http::Response::json(404, R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})");
                         }
                         http::Response found = http::Response::json(200, manifest(image->second.disk_bytes));
                         found.content_type = "application/vnd.oci.image.manifest.v1+json";
                         return found;
                     },
                     "manifest"});
        router_.add({http::Method::get, "/token",
                     [this](const http::Request& request) {
                         const std::string scope{request.query_param("scope").value_or("")};
                         // "repository:acme/sonoma:pull"
                         const std::string repository = scope.substr(11, scope.rfind(':') - 11);
                         std::lock_guard lock{mutex_};
                         for (const auto& [name, image] : images_) {
                             if (!name.starts_with(repository + ":") || image.basic_credentials.empty()) continue;
                             if (request.header("Authorization") != "Basic " + image.basic_credentials) {
                                 return http::Response::json(401, R"({"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]})");
                             }
                         }
                         return http::Response::json(200, nlohmann::json{{"token", "token-for-" + repository}}.dump());
                     },
                     "token"});
        http::ServerOptions options;
        options.bind_address = "127.0.0.1";
        options.port = 0;
        server_ = std::make_unique<http::Server>(options, router_);
        port_ = server_->start();
    }
    ~FakeRegistry() { server_->stop(); }

    std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
    std::string url() const { return "http://" + host(); }

    // An image "org/repo:tag" whose disk unpacks to `disk_bytes`; with `basic_credentials`
    // (base64 of "user:password"), a private one.
    void add_image(const std::string& name, double disk_bytes, const std::string& basic_credentials = {}) {
        std::lock_guard lock{mutex_};
        images_[name] = {disk_bytes, basic_credentials};
    }
    int manifest_requests() const {
        std::lock_guard lock{mutex_};
        return manifest_requests_;
    }

private:
    struct Image {
        double disk_bytes = 0;
        std::string basic_credentials;
    };

    static std::string manifest(double disk_bytes) {
        const auto bytes = static_cast<std::uint64_t>(disk_bytes);
        const std::uint64_t half = bytes / 2;
        nlohmann::json layers = nlohmann::json::array();
        layers.push_back({{"mediaType", "application/vnd.cirruslabs.tart.config.v1"}, {"size", 512},
                          {"digest", "sha256:00"}});
        for (const std::uint64_t part : {half, bytes - half}) {
            layers.push_back({{"mediaType", "application/vnd.cirruslabs.tart.disk.v2"},
                              {"size", part / 3},
                              {"digest", "sha256:11"},
                              {"annotations", {{"org.cirruslabs.tart.uncompressed-size", std::to_string(part)}}}});
        }
        layers.push_back({{"mediaType", "application/vnd.cirruslabs.tart.nvram.v1"}, {"size", 1024}, {"digest", "sha256:22"}});
        return nlohmann::json{{"schemaVersion", 2},
                              {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                              {"config", {{"mediaType", "application/vnd.oci.image.config.v1+json"}, {"size", 100}, {"digest", "sha256:33"}}},
                              {"layers", layers},
                              {"annotations", {{"org.cirruslabs.tart.uncompressed-disk-size", std::to_string(bytes)}}}}
            .dump();
    }

    mutable std::mutex mutex_;
    std::map<std::string, Image> images_;
    int manifest_requests_ = 0;
    http::Router router_;
    std::unique_ptr<http::Server> server_;
    std::uint16_t port_ = 0;
};

} // namespace macvmorx::testing
