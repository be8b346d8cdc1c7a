#pragma once

#include "macvmorx/base/clock.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace macvmorx::agent {

struct RegistryCredentials {
    std::string username;
    std::string password;
    std::string only_host; // TART_REGISTRY_HOSTNAME: the credentials are for this host only
};

// The credentials tart takes from its environment (Credentials/EnvironmentCredentialsProvider.swift):
// TART_REGISTRY_USERNAME and TART_REGISTRY_PASSWORD, both or neither, for TART_REGISTRY_HOSTNAME
// if set. The agent passes its environment on to tart, and uses the same for its own questions.
std::optional<RegistryCredentials> registry_credentials_from_environment();

// The disk an image takes once pulled, from its OCI manifest (OCI/Manifest.swift): the
// annotation "org.cirruslabs.tart.uncompressed-disk-size" that `tart push` writes, else the sum
// of the disk layers' "org.cirruslabs.tart.uncompressed-size", plus the 128 MiB that tart's own
// pruning adds for the VM's other files (VMStorageOCI.swift); nullopt when the manifest says
// neither. In GiB.
std::optional<double> manifest_disk_size_gb(std::string_view manifest);

// Asks an image's registry for its manifest, as `tart pull` does first (OCI distribution spec:
// GET /v2/<name>/manifests/<reference>; a 401 is answered through the token service that its
// WWW-Authenticate names, Registry.swift's auth), so that the agent can make room before the
// pull. https://, or http:// to a loopback registry only.
//
// Threading: image_size_gb may be called from any thread; each question runs on a thread of its
// own, and `done` is called there. Destroying the client waits for the questions under way.
class RegistryClient {
public:
    explicit RegistryClient(std::optional<RegistryCredentials> credentials, Duration timeout = std::chrono::seconds{10});
    ~RegistryClient();
    RegistryClient(const RegistryClient&) = delete;
    RegistryClient& operator=(const RegistryClient&) = delete;

    // `done(gb)`: the image's size unpacked, or 0 when the registry does not tell (not an OCI
    // name, unreachable, refused, no size in the manifest).
    void image_size_gb(const std::string& image, std::function<void(double)> done);

    // The same, on the calling thread.
    double ask(const std::string& image) const;

private:
    std::optional<RegistryCredentials> credentials_;
    Duration timeout_;
    struct Question {
        std::thread thread;
        std::shared_ptr<std::atomic<bool>> answered;
    };
    std::mutex mutex_;
    std::vector<Question> questions_; // the threads of answered ones are joined by the next question
};

} // namespace macvmorx::agent
