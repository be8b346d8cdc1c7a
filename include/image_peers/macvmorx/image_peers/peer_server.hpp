#pragma once

// Where an agent serves the bucket images it holds to the other Macs of its lab
// (docs/agent-protocol.md, "Peers"): each image's chunk manifest and its archive's bytes, by
// range, to a caller with a grant the daemon signed for that image. Uploads are bounded in number
// (a caller over the bound is answered 503 with Retry-After) and in rate (answers wait their
// turn), so that the VMs running on this Mac keep their network and disk.

#include "macvmorx/base/clock.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace macvmorx::image_peers {

// A verified archive this Mac holds, with its chunk manifest.
struct Seed {
    std::filesystem::path archive;
    std::filesystem::path manifest;
};
// The seed of an image, when this Mac holds one. Called on the server's threads.
using SeedLookup = std::function<std::optional<Seed>(const std::string& image)>;

// The daemon's public key for grants (PEM): `fresh` asks the daemon again (a grant of another
// key came, the daemon may have restarted). Empty when it cannot be had. Called on the server's threads.
using GrantKey = std::function<std::string(bool fresh)>;

struct PeerServerOptions {
    std::string bind_address = "0.0.0.0";
    std::uint16_t port = 0;
    int max_uploads = 2;                   // answers with bytes under way at once
    double upload_bytes_per_second = 100e6; // on average (800 Mbit/s); 0: no bound
    // The largest range one request may ask for: a chunk (object_store's default_chunk_size).
    std::uint64_t max_range_bytes = 64ull * 1024 * 1024;
};

class PeerServer {
public:
    PeerServer(PeerServerOptions options, SeedLookup seeds, GrantKey key, const Clock& clock);
    ~PeerServer();

    // Binds and serves; returns the port. Throws std::system_error when the address is taken.
    std::uint16_t start();
    void stop();

    std::uint64_t bytes_uploaded() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace macvmorx::image_peers
