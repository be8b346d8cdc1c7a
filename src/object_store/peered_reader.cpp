#include "macvmorx/object_store/peered_reader.hpp"

#include "macvmorx/http/base_url.hpp"
#include "macvmorx/http/web_client.hpp"
#include "macvmorx/object_store/chunk_manifest.hpp"
#include "macvmorx/object_store/sigv4.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <future>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace macvmorx::object_store {
namespace {

// Ends a store's read once a chunk's bytes are in.
struct ChunkComplete {};

} // namespace

std::string peer_image_path(const std::string& image) { return "/peer/v1/images/" + uri_encode(image, false); }

struct PeeredReader::Impl {
    ObjectReader& store;
    std::string image;
    PeerOffer offer;
    PeerFetchOptions options;
    // One flag per peer: set once it failed or lied, so that it is not asked again.
    std::unique_ptr<std::atomic<bool>[]> given_up;

    Impl(ObjectReader& store_reader, std::string image_name, PeerOffer peer_offer, PeerFetchOptions fetch_options)
        : store{store_reader}, image{std::move(image_name)}, offer{std::move(peer_offer)}, options{fetch_options},
          given_up{std::make_unique<std::atomic<bool>[]>(offer.peers.size())} {}

    // One GET to a peer; the body, or nullopt with the reason logged. `busy` tells a 503 apart.
    std::optional<std::string> get(const ImagePeer& peer, const std::string& target, std::vector<http::Header> headers,
                                   std::uint64_t expected_size, bool& busy) const {
        busy = false;
        try {
            http::WebClientOptions client_options;
            client_options.timeout = options.timeout;
            http::WebClient client{http::BaseUrl::parse(peer.url), client_options};
            headers.push_back({"Authorization", "Bearer " + offer.grant});
            std::string body;
            const auto response = client.request_streamed(http::Method::get, target, headers,
                                                          [&body, expected_size](const http::ClientResponse&, std::string_view piece) {
                                                              if (body.size() + piece.size() > expected_size) {
                                                                  throw std::runtime_error("more bytes than asked for");
                                                              }
                                                              body.append(piece);
                                                          });
            if (response.status == 503) {
                busy = true;
                return std::nullopt;
            }
            if (response.status / 100 != 2) {
                spdlog::warn("agent: peer {} ({}) answered {} for {}: {}", peer.node_id, peer.url, response.status, image,
                             response.body.substr(0, 200));
                return std::nullopt;
            }
            return body;
        } catch (const std::exception& error) {
            spdlog::warn("agent: peer {} ({}) failed for {}: {}", peer.node_id, peer.url, image, error.what());
            return std::nullopt;
        }
    }

    // The manifest of the first peer that holds this very version.
    std::optional<ChunkManifest> manifest(const ObjectVersion& version) {
        for (std::size_t i = 0; i < offer.peers.size(); ++i) {
            bool busy = false;
            const auto text = get(offer.peers[i], peer_image_path(image) + "/manifest", {}, 16u << 20, busy);
            if (!text) {
                if (!busy) given_up[i] = true;
                continue;
            }
            try {
                auto found = ChunkManifest::from_json(*text);
                if (found.object == image && found.version == version.version && found.size == version.size) return found;
                spdlog::info("agent: peer {} holds another version of {} ({}), not {}", offer.peers[i].node_id, image,
                             found.version, version.version);
            } catch (const std::runtime_error& error) {
                spdlog::warn("agent: peer {} gave a manifest of {} that is wrong: {}", offer.peers[i].node_id, image, error.what());
            }
            given_up[i] = true;
        }
        return std::nullopt;
    }

    // Chunk `index`, checked, from the first peer (starting at one of its own, to spread the
    // load) that gives it; nullopt when none does.
    std::optional<std::string> chunk(const ChunkManifest& manifest, std::uint64_t index) {
        const auto first = manifest.chunk_offset(index);
        const auto length = manifest.chunk_length(index);
        const std::vector<http::Header> range{{"Range", "bytes=" + std::to_string(first) + "-" + std::to_string(first + length - 1)}};
        const std::size_t count = offer.peers.size();
        // A busy peer (503) is asked again after its Retry-After, for up to 20 seconds: the daemon
        // admits no more fetches than the holders serve, so a wait is short.
        for (std::size_t round = 0; round < 10; ++round) {
            bool any_busy = false;
            for (std::size_t step = 0; step < count; ++step) {
                const std::size_t i = (index + step) % count;
                if (given_up[i]) continue;
                bool busy = false;
                auto bytes = get(offer.peers[i], peer_image_path(image) + "/archive", range, length, busy);
                if (busy) {
                    any_busy = true;
                    continue;
                }
                if (bytes && bytes->size() == length && chunk_hash(*bytes) == manifest.chunks[index]) return bytes;
                if (bytes) {
                    spdlog::warn("agent: peer {} sent chunk {} of {} that is not the manifest's; not asking it again",
                                 offer.peers[i].node_id, index, image);
                }
                given_up[i] = true;
            }
            if (!any_busy) break;
            std::this_thread::sleep_for(std::chrono::seconds{2});
        }
        return std::nullopt;
    }
};

PeeredReader::PeeredReader(ObjectReader& store, std::string image, PeerOffer offer, PeerFetchOptions options)
    : impl_{std::make_unique<Impl>(store, std::move(image), std::move(offer), options)} {}

PeeredReader::~PeeredReader() = default;

std::string PeeredReader::describe(const std::string& bucket, const std::string& object) const {
    return impl_->store.describe(bucket, object);
}

ObjectVersion PeeredReader::stat(const std::string& bucket, const std::string& object) {
    return impl_->store.stat(bucket, object);
}

void PeeredReader::read(const std::string& bucket, const std::string& object, const ObjectVersion& version,
                        std::uint64_t offset, const ObjectSink& sink) {
    auto& impl = *impl_;
    const auto from_store = [&](std::uint64_t start, const ObjectSink& to) {
        impl.store.read(bucket, object, version, start, [&](std::string_view piece) {
            from_store_ += piece.size();
            to(piece);
        });
    };
    const auto manifest = impl.offer.peers.empty() ? std::nullopt : impl.manifest(version);
    if (!manifest) return from_store(offset, sink);

    // A window of chunks fetched at once, handed on in order.
    std::deque<std::pair<std::uint64_t, std::future<std::optional<std::string>>>> window;
    std::uint64_t next = offset / manifest->chunk_size;
    const auto fill = [&] {
        while (window.size() < std::max<std::size_t>(impl.options.parallel, 1) && next < manifest->chunk_count()) {
            window.emplace_back(next, std::async(std::launch::async, [&impl, &manifest, index = next] {
                                    return impl.chunk(*manifest, index);
                                }));
            ++next;
        }
    };
    fill();
    while (!window.empty()) {
        auto [index, pending] = std::move(window.front());
        window.pop_front();
        auto bytes = pending.get();
        const auto start = manifest->chunk_offset(index);
        const auto skip = offset > start ? offset - start : 0; // the first chunk may be partly on disk
        if (bytes) {
            from_peers_ += bytes->size() - skip;
            sink(std::string_view{*bytes}.substr(skip));
        } else {
            // No peer gave it: the store does, this chunk only.
            const auto end = start + manifest->chunk_length(index);
            std::uint64_t at = start + skip;
            try {
                from_store(at, [&](std::string_view piece) {
                    const auto room = end - at;
                    if (piece.size() >= room) {
                        sink(piece.substr(0, static_cast<std::size_t>(room)));
                        at = end;
                        throw ChunkComplete{};
                    }
                    at += piece.size();
                    sink(piece);
                });
            } catch (const ChunkComplete&) {
            }
            if (at < end) {
                // Never the next chunk after a short one: the download goes on from here.
                throw ObjectStoreError(ObjectStoreError::Kind::transient,
                                       describe(bucket, object) + ": the store's answer ended at byte " + std::to_string(at));
            }
        }
        fill();
    }
}

} // namespace macvmorx::object_store
