#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace macvmorx::agent {

// An image in an OCI registry as tart names it (tart's Sources/tart/OCI/RemoteName.swift and its
// grammar OCI/Reference/Reference.g4): host[:port]/namespace, then :tag or @sha256:digest. A
// name without a reference means the tag `latest`, which is how `tart list` shows it.
struct OciName {
    std::string host;      // with its port, if any: "ghcr.io", "127.0.0.1:5000"
    std::string name;      // the namespace: "cirruslabs/macos-sonoma-base"
    std::string tag;       // empty when pinned by digest
    std::string digest;    // "sha256:..." or empty

    // tart's description of the name: "ghcr.io/acme/sonoma:latest", "ghcr.io/acme/sonoma@sha256:..".
    std::string canonical() const;
    // The registry reference of the manifest: the tag, or the digest.
    const std::string& reference() const { return digest.empty() ? tag : digest; }
};

// nullopt for anything tart does not take for a remote name: those are local VM names.
std::optional<OciName> parse_oci_name(std::string_view text);

// The name under which tart stores an image, so that two spellings of one image are one image:
// "ghcr.io/acme/sonoma" and "ghcr.io/acme/sonoma:latest" alike; a local name is itself.
std::string image_key(std::string_view image);

} // namespace macvmorx::agent
