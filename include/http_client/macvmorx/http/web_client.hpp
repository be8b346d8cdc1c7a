#pragma once

#include "macvmorx/base/clock.hpp"
#include "macvmorx/http/base_url.hpp"
#include "macvmorx/http/client.hpp"
#include "macvmorx/http/message.hpp"

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace macvmorx::http {

struct WebClientOptions {
    Duration timeout = std::chrono::seconds{15};
    // Extra PEM bundle to trust besides the system's (a private CA); certificates and host
    // names are always verified.
    std::string ca_file;
    // A client certificate and its key (PEM), for servers that ask for one (mutual TLS).
    std::string client_certificate_file;
    std::string client_key_file;
};

// A blocking HTTP/1.1 client for one server, over TLS or not, on one keep-alive connection.
// For calls to outside services (GitHub) from a worker thread, never from the server's threads.
//
// Threading: one thread at a time.
class WebClient {
public:
    WebClient(BaseUrl base, WebClientOptions options = {});
    ~WebClient();

    // `target` is appended to the base path. Throws std::system_error on network failures
    // (TLS and certificate failures included) and timeouts.
    ClientResponse request(Method method, const std::string& target, const std::string& body = {},
                           const std::vector<Header>& headers = {});

    const BaseUrl& base() const { return base_; }

private:
    struct Impl;
    BaseUrl base_;
    std::unique_ptr<Impl> impl_;
};

} // namespace macvmorx::http
