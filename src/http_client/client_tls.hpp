#pragma once

// The client side of TLS, shared by WebClient (calls to GitHub) and AsyncClient (the agent's
// link): one place that decides what a client trusts and checks.

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <memory>
#include <string>

namespace macvmorx::http {

// TLS 1.2 or newer, the system's CAs and `ca_file`, peer verification always on, and a client
// certificate when `certificate_file` is given. Throws boost::system::system_error for a file
// that cannot be used.
std::unique_ptr<boost::asio::ssl::context> make_client_tls_context(const std::string& ca_file,
                                                                   const std::string& certificate_file = {},
                                                                   const std::string& key_file = {});

// Before the handshake: server name indication, and the certificate must name `host` (an IP
// address is checked as one).
boost::beast::error_code expect_server_name(boost::beast::ssl_stream<boost::beast::tcp_stream>& stream,
                                            const std::string& host);

} // namespace macvmorx::http
