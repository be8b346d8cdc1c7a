#pragma once

#include "macvmorx/base/clock.hpp"
#include "macvmorx/http/base_url.hpp"
#include "macvmorx/http/client.hpp"
#include "macvmorx/http/message.hpp"

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
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

    // Receives a response body piece by piece as it arrives, with the answer's status and headers
    // (`head`, whose body is empty) to judge the first piece by; an exception thrown from it ends
    // the exchange (and the connection) and reaches the caller.
    using BodySink = std::function<void(const ClientResponse& head, std::string_view piece)>;

    // A GET (or HEAD) whose answer may be larger than memory (a 40 GB image): the body of a 2xx
    // answer goes to `sink` and the response's body stays empty; another answer's body is kept,
    // its first 64 KiB, for its message. The timeout is per read: a transfer that keeps moving
    // may take as long as it needs. Once a piece has reached the sink, a failure is thrown, never
    // retried here (the caller knows how far it got).
    ClientResponse request_streamed(Method method, const std::string& target, const std::vector<Header>& headers,
                                    const BodySink& sink);

    const BaseUrl& base() const { return base_; }

private:
    struct Impl;
    BaseUrl base_;
    std::unique_ptr<Impl> impl_;
};

} // namespace macvmorx::http
