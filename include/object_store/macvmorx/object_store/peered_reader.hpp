#pragma once

// An object's bytes taken from the Macs of the lab that hold it rather than from its bucket
// (issue 21, "an image crosses the internet once per lab"; the protocol is in
// docs/agent-protocol.md, "Peers"). The store stays the authority: it says which version the
// object is and its checksums (stat), and a peer's chunk manifest is used only when it is of that
// version. Chunks are fetched from several peers at once, each taken only when its SHA-256 is the
// manifest's; a chunk no peer gives comes from the store. A peer that fails or sends a wrong
// chunk is not asked again. The download on top (object_download.hpp) still checks the whole
// against the store's checksums.

#include "macvmorx/base/clock.hpp"
#include "macvmorx/object_store/object_reader.hpp"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace macvmorx::object_store {

struct ImagePeer {
    std::string node_id;
    std::string url; // where it serves: "http://mac-07.lab:9100"
};

// What the daemon answers a Mac that is about to fetch an image: whom to ask, and the grant to
// show them.
struct PeerOffer {
    std::vector<ImagePeer> peers;
    std::string grant;
    // Ask again after `retry_after` rather than fetch now: another Mac of the lab is fetching
    // the lab's copy, or those that hold it serve as many as they may. `reason` says which.
    bool wait = false;
    Duration retry_after{};
    std::string reason;
};

struct PeerFetchOptions {
    Duration timeout = std::chrono::seconds{30}; // per exchange with a peer
    std::size_t parallel = 3;                     // chunks fetched at once (each held in memory whole)
};

// The path of a peer's answers about `image` (its URL-encoded name): ".../manifest", ".../archive".
std::string peer_image_path(const std::string& image);

class PeeredReader final : public ObjectReader {
public:
    // `image` is the object's URL ("gs://BUCKET/PATH"), as peers know it.
    PeeredReader(ObjectReader& store, std::string image, PeerOffer offer, PeerFetchOptions options = {});
    ~PeeredReader() override;

    std::string describe(const std::string& bucket, const std::string& object) const override;
    ObjectVersion stat(const std::string& bucket, const std::string& object) override;
    void read(const std::string& bucket, const std::string& object, const ObjectVersion& version,
              std::uint64_t offset, const ObjectSink& sink) override;

    std::uint64_t bytes_from_peers() const { return from_peers_; }
    std::uint64_t bytes_from_store() const { return from_store_; }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::atomic<std::uint64_t> from_peers_{0};
    std::atomic<std::uint64_t> from_store_{0};
};

} // namespace macvmorx::object_store
