#include "client_tls.hpp"

#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace macvmorx::http {
namespace ssl = boost::asio::ssl;

std::unique_ptr<ssl::context> make_client_tls_context(const std::string& ca_file, const std::string& certificate_file,
                                                      const std::string& key_file) {
    auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    context->set_default_verify_paths();
    if (!ca_file.empty()) context->load_verify_file(ca_file);
    context->set_verify_mode(ssl::verify_peer);
    if (!certificate_file.empty()) {
        context->use_certificate_chain_file(certificate_file);
        context->use_private_key_file(key_file, ssl::context::pem);
    }
    return context;
}

boost::beast::error_code expect_server_name(boost::beast::ssl_stream<boost::beast::tcp_stream>& stream,
                                            const std::string& host) {
    if (!SSL_set_tlsext_host_name(stream.native_handle(), host.c_str())) {
        return {static_cast<int>(::ERR_get_error()), boost::asio::error::get_ssl_category()};
    }
    stream.set_verify_callback(ssl::host_name_verification(host));
    return {};
}

} // namespace macvmorx::http
