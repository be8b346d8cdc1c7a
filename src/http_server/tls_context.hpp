#pragma once

#include "macvmorx/http/server.hpp"

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <mutex>

namespace macvmorx::http {

// The server's TLS settings as an OpenSSL context: TLS 1.2 or newer, the certificate chain and
// key, and (with a client CA) verification of client certificates. `reload` builds a new
// context; sessions hold the one they started with.
//
// Threading: `current` and `reload` are safe from any thread.
class TlsContext {
public:
    // Throws TlsError naming the file that cannot be used.
    explicit TlsContext(TlsFiles files);

    std::shared_ptr<boost::asio::ssl::context> current() const;
    bool asks_for_client_certificates() const { return !files_.client_ca_file.empty(); }
    void reload();

private:
    static std::shared_ptr<boost::asio::ssl::context> build(const TlsFiles& files);

    TlsFiles files_;
    // A mutex rather than std::atomic<std::shared_ptr>, which ThreadSanitizer cannot see through.
    mutable std::mutex mutex_;
    std::shared_ptr<boost::asio::ssl::context> context_;
};

} // namespace macvmorx::http
