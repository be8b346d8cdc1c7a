#pragma once

#include "macvmorx/base/clock.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace macvmorx::http {

class Router;

// Bounds on what one client may cost the server. They are enforced where data enters (the
// parser's limits, the stream's deadlines), not checked after the fact.
struct ServerLimits {
    std::size_t max_body_bytes = 1 << 20;
    std::size_t max_header_bytes = 16 << 10;
    std::size_t max_connections = 10'000;
    // How long a connection may wait for (the header of) its next request, keep-alive included.
    Duration idle_timeout = std::chrono::seconds{30};
    // How long the body of a request, and the writing of an answer, may take.
    Duration io_timeout = std::chrono::seconds{30};
    // On shutdown, how long in-flight requests may take before the server stops anyway.
    Duration shutdown_grace = std::chrono::milliseconds{1500};
};

// HTTPS instead of HTTP on the same port (PEM files). With a client CA the server asks every
// client for a certificate and verifies the ones it gets; which routes need one is the
// application's decision (Request::client_certificate_names).
struct TlsFiles {
    std::string certificate_file; // the chain, leaf first
    std::string private_key_file;
    std::string client_ca_file;   // empty: no client certificates
};

// A TLS file that cannot be used: missing, not PEM, a key that does not match.
class TlsError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct ServerOptions {
    std::string bind_address = "0.0.0.0";
    std::uint16_t port = 0; // 0: any free port; the daemon gives the --port setting's (config/server_settings.hpp)
    unsigned threads = 1;
    ServerLimits limits;
    std::optional<TlsFiles> tls;
};

// The HTTP/1.1 server: one io_context run by a pool of threads, one strand per connection.
// It routes every request through the Router and knows nothing else about the application.
//
// Threading: construct, `start`, add periodic tasks and `stop` from one controlling thread.
// Periodic tasks run on the pool; one task never overlaps with itself.
class Server {
public:
    Server(ServerOptions options, const Router& router);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds and listens, then starts the threads. Returns the bound port (useful with port 0).
    // Throws std::system_error when the address cannot be bound, TlsError for TLS files.
    std::uint16_t start();

    // Runs `task` every `interval` on the pool until the server stops.
    void every(Duration interval, std::function<void()> task);

    // Stops accepting, lets in-flight requests finish (up to the shutdown grace), closes idle
    // connections and joins the threads. Idempotent.
    void stop();

    // Re-reads the TLS files for connections accepted from now on; open ones keep theirs.
    // Throws TlsError naming the file when one cannot be used (nothing changes then).
    void reload_tls();

    std::uint16_t port() const;
    std::size_t open_connections() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace macvmorx::http
