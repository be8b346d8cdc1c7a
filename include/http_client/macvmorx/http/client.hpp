#pragma once

#include "macvmorx/base/clock.hpp"
#include "macvmorx/http/message.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace macvmorx::http {

struct ClientResponse {
    int status = 0;
    std::string body;
    std::vector<Header> headers;
    bool keep_alive = true;

    std::optional<std::string_view> header(std::string_view name) const { return find_header(headers, name); }
};

// A blocking HTTP/1.1 client over one keep-alive connection, with a deadline on every
// exchange: an AsyncClient run to completion. For tools and tests.
//
// Threading: one thread at a time per client.
class HttpClient {
public:
    HttpClient(std::string host, std::uint16_t port, Duration timeout = std::chrono::seconds{10});
    ~HttpClient();
    HttpClient(HttpClient&&) noexcept;
    HttpClient& operator=(HttpClient&&) noexcept;

    // Throws std::system_error when the server cannot be reached or the deadline passes.
    ClientResponse request(Method method, const std::string& target, const std::string& body = {},
                           const std::vector<Header>& headers = {});

    ClientResponse get(const std::string& target) { return request(Method::get, target); }
    ClientResponse post_json(const std::string& target, const std::string& body) {
        return request(Method::post, target, body, {{"Content-Type", "application/json"}});
    }
    ClientResponse del(const std::string& target) { return request(Method::del, target); }

    // How many TCP connections this client has opened (1 while keep-alive holds).
    std::size_t connections_opened() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace macvmorx::http
