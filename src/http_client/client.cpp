#include "macvmorx/http/client.hpp"

#include "macvmorx/http/async_client.hpp"

#include <boost/asio/io_context.hpp>

#include <optional>
#include <system_error>

namespace macvmorx::http {

// The blocking client is the asynchronous one run to completion on a private io_context.
struct HttpClient::Impl {
    boost::asio::io_context ioc;
    std::optional<AsyncClient> client;
};

HttpClient::HttpClient(std::string host, std::uint16_t port, Duration timeout) : impl_{std::make_unique<Impl>()} {
    impl_->client.emplace(impl_->ioc, std::move(host), port, timeout);
}

HttpClient::~HttpClient() {
    if (!impl_) return;
    impl_->client.reset();
    impl_->ioc.restart();
    impl_->ioc.run();
}

HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

ClientResponse HttpClient::request(Method method, const std::string& target, const std::string& body,
                                   const std::vector<Header>& headers) {
    std::error_code error;
    ClientResponse response;
    impl_->client->request(method, target, body, headers, [&](std::error_code ec, ClientResponse answer) {
        error = ec;
        response = std::move(answer);
    });
    impl_->ioc.restart();
    impl_->ioc.run();
    if (error) throw std::system_error(error, "HTTP " + std::string(to_string(method)) + " " + target);
    return response;
}

std::size_t HttpClient::connections_opened() const { return impl_->client->connections_opened(); }

} // namespace macvmorx::http
