#include "macvmorx/image_peers/peer_server.hpp"

#include "macvmorx/http/http_error.hpp"
#include "macvmorx/http/router.hpp"
#include "macvmorx/http/server.hpp"
#include "macvmorx/jwt/rs256.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>

namespace macvmorx::image_peers {
namespace {

std::string read_whole(const std::filesystem::path& path) {
    std::ifstream file(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

// "bytes=A-B" (both given: a peer asks for chunks); nullopt for anything else.
std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_range(std::string_view header) {
    if (!header.starts_with("bytes=")) return std::nullopt;
    header.remove_prefix(6);
    const auto dash = header.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    const auto a = header.substr(0, dash);
    const auto b = header.substr(dash + 1);
    if (std::from_chars(a.data(), a.data() + a.size(), first).ec != std::errc{} ||
        std::from_chars(b.data(), b.data() + b.size(), last).ec != std::errc{} || last < first) {
        return std::nullopt;
    }
    return std::pair{first, last};
}

} // namespace

struct PeerServer::Impl {
    PeerServerOptions options;
    SeedLookup seeds;
    GrantKey key;
    const Clock& clock;
    http::Router router;
    std::unique_ptr<http::Server> server;
    std::atomic<int> uploads{0};
    std::atomic<std::uint64_t> uploaded{0};
    std::mutex pace_mutex;
    std::chrono::steady_clock::time_point next_free{};
    std::mutex key_mutex;
    std::string public_key;
    std::chrono::steady_clock::time_point key_fetched{};

    Impl(PeerServerOptions given, SeedLookup lookup, GrantKey grant_key, const Clock& server_clock)
        : options{std::move(given)}, seeds{std::move(lookup)}, key{std::move(grant_key)}, clock{server_clock} {}

    // Throws 401 unless the request carries a grant of the daemon's key for `image`, unexpired.
    void check_grant(const http::Request& request, const std::string& image) {
        const auto authorization = request.header("Authorization");
        if (!authorization || !authorization->starts_with("Bearer ")) {
            throw http::HttpError(401, "grant required", "ask the daemon for one: GET /api/nodes/{nodeId}/image-peers");
        }
        const std::string token{authorization->substr(7)};
        std::optional<std::string> claims;
        {
            std::lock_guard lock{key_mutex};
            if (public_key.empty()) public_key = key(false);
            claims = public_key.empty() ? std::nullopt : jwt::verified_rs256_claims(token, public_key);
            // Another key: the daemon may have restarted. Asked again, at most every 10 seconds.
            if (!claims && std::chrono::steady_clock::now() - key_fetched > std::chrono::seconds{10}) {
                key_fetched = std::chrono::steady_clock::now();
                if (auto fresh = key(true); !fresh.empty()) public_key = std::move(fresh);
                claims = public_key.empty() ? std::nullopt : jwt::verified_rs256_claims(token, public_key);
            }
        }
        if (!claims) throw http::HttpError(401, "grant refused", "the grant is not signed by the daemon's key");
        const auto json = nlohmann::json::parse(*claims, nullptr, false);
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(clock.now().time_since_epoch()).count();
        if (!json.is_object() || json.value("iss", std::string{}) != "macvmorx" || json.value("image", std::string{}) != image) {
            throw http::HttpError(403, "grant refused", "the grant is for another image");
        }
        if (json.value("exp", std::int64_t{0}) <= now) throw http::HttpError(401, "grant expired", "ask the daemon for a new one");
    }

    Seed seed_of(const std::string& image) const {
        auto seed = seeds(image);
        if (!seed) throw http::NotFound("image not held", "this Mac holds no verified archive of " + image);
        return *seed;
    }

    // How long an answer of `bytes` waits for its turn at the upload rate.
    std::chrono::steady_clock::duration pace(std::uint64_t bytes) {
        if (options.upload_bytes_per_second <= 0) return {};
        std::lock_guard lock{pace_mutex};
        const auto now = std::chrono::steady_clock::now();
        const auto start = std::max(now, next_free);
        next_free = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                std::chrono::duration<double>(static_cast<double>(bytes) / options.upload_bytes_per_second));
        return start - now;
    }

    http::Response manifest(const http::Request& request) {
        const std::string image{request.path_param("image")};
        check_grant(request, image);
        http::Response response;
        response.body = read_whole(seed_of(image).manifest);
        return response;
    }

    void archive(const http::Request& request, std::shared_ptr<http::Reply> reply) {
        const std::string image{request.path_param("image")};
        check_grant(request, image);
        const auto seed = seed_of(image);
        const auto range = parse_range(request.header("Range").value_or(""));
        if (!range) throw http::HttpError(400, "range required", "ask for one chunk: Range: bytes=FIRST-LAST");
        std::error_code failed;
        const auto size = std::filesystem::file_size(seed.archive, failed);
        if (failed) throw http::NotFound("image not held", "the archive of " + image + " is gone");
        const auto [first, last_asked] = *range;
        const auto last = std::min<std::uint64_t>(last_asked, size - 1);
        if (first >= size) throw http::HttpError(416, "range not satisfiable", "the archive has " + std::to_string(size) + " bytes");
        if (last - first + 1 > options.max_range_bytes) {
            throw http::HttpError(416, "range too large", "ask for " + std::to_string(options.max_range_bytes) + " bytes at most");
        }
        if (uploads.fetch_add(1) >= options.max_uploads) {
            uploads.fetch_sub(1);
            http::Response busy = http::Response::json(503, R"({"error":"busy","detail":"this Mac is uploading as much as it may; ask another or retry"})");
            busy.headers.push_back({"Retry-After", "2"});
            return reply->send(std::move(busy));
        }
        const auto wait = pace(last - first + 1);
        // Read and answered on a thread of its own: the wait must not hold a server thread. At
        // most max_uploads of them.
        std::thread([this, reply = std::move(reply), path = seed.archive, first, last, size, wait]() mutable {
            std::this_thread::sleep_for(wait);
            http::Response response;
            response.status = 206;
            response.content_type = "application/octet-stream";
            response.body.resize(static_cast<std::size_t>(last - first + 1));
            std::ifstream file(path, std::ios::binary);
            file.seekg(static_cast<std::streamoff>(first));
            if (!file.read(response.body.data(), static_cast<std::streamsize>(response.body.size()))) {
                response = http::Response::json(500, R"({"error":"read failed","detail":"the archive could not be read"})");
            } else {
                response.headers.push_back({"Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" +
                                                                 std::to_string(size)});
                uploaded += response.body.size();
            }
            reply->send(std::move(response));
            reply.reset(); // the session's, let go before the server may go
            uploads.fetch_sub(1);
        }).detach();
    }
};

PeerServer::PeerServer(PeerServerOptions options, SeedLookup seeds, GrantKey key, const Clock& clock)
    : impl_{std::make_unique<Impl>(std::move(options), std::move(seeds), std::move(key), clock)} {
    auto& impl = *impl_;
    impl.router.add({http::Method::get, "/peer/v1/images/{image}/manifest",
                     [&impl](const http::Request& request) { return impl.manifest(request); }, "An image's chunk manifest",
                     http::Body::none, http::Access::open});
    impl.router.add({http::Method::get, "/peer/v1/images/{image}/archive",
                     http::AsyncHandler{[&impl](const http::Request& request, std::shared_ptr<http::Reply> reply) {
                         impl.archive(request, std::move(reply));
                     }},
                     "A range of an image's archive", http::Body::none, http::Access::open});
}

PeerServer::~PeerServer() {
    stop();
    // Answers under way finish before the state they use goes.
    while (impl_->uploads.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds{10});
}

std::uint16_t PeerServer::start() {
    http::ServerOptions options;
    options.bind_address = impl_->options.bind_address;
    options.port = impl_->options.port;
    options.threads = 2;
    impl_->server = std::make_unique<http::Server>(options, impl_->router);
    return impl_->server->start();
}

void PeerServer::stop() {
    if (impl_->server) impl_->server->stop();
}

std::uint64_t PeerServer::bytes_uploaded() const { return impl_->uploaded; }

} // namespace macvmorx::image_peers
