#pragma once

#include "macvmorx/base/clock.hpp"
#include "macvmorx/http/client.hpp"
#include "macvmorx/http/message.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace macvmorx::http {

// HTTPS for an AsyncClient: the server's certificate and host name are always verified, against
// the system's CAs and `ca_file`; a client certificate is shown when the server asks (mutual TLS).
struct ClientTls {
    std::string ca_file;
    std::string certificate_file;
    std::string key_file;
};

// An HTTP/1.1 client over one keep-alive connection, driven by an io_context the caller runs.
// Requests go out one after another in the order they were made; each has a deadline. A
// connection the server closed meanwhile is reopened, and a request that failed at once on such
// a stale connection is sent again once.
//
// Threading: call from any thread; callbacks run on the io_context, one at a time per client.
// The client may be destroyed with requests in flight: their callbacks get operation_aborted.
class AsyncClient {
public:
    using Callback = std::function<void(std::error_code, ClientResponse)>;

    // With `tls`, HTTPS. Throws std::system_error when a TLS file cannot be used.
    AsyncClient(boost::asio::io_context& ioc, std::string host, std::uint16_t port,
                Duration timeout = std::chrono::seconds{10}, std::optional<ClientTls> tls = std::nullopt);
    ~AsyncClient();
    AsyncClient(const AsyncClient&) = delete;
    AsyncClient& operator=(const AsyncClient&) = delete;

    void request(Method method, std::string target, std::string body, std::vector<Header> headers, Callback done);

    // TCP connections opened so far (1 while keep-alive holds).
    std::size_t connections_opened() const;

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

} // namespace macvmorx::http
