#include "tls_context.hpp"

#include <openssl/ssl.h>

#include <functional>
#include <stdexcept>

namespace macvmorx::http {
namespace ssl = boost::asio::ssl;

namespace {

void use(const std::string& what, const std::string& file, const std::function<void()>& load) {
    try {
        load();
    } catch (const boost::system::system_error& error) {
        throw TlsError("cannot use the " + what + " " + file + ": " + error.code().message());
    }
}

} // namespace

TlsContext::TlsContext(TlsFiles files) : files_{std::move(files)}, context_{build(files_)} {}

void TlsContext::reload() {
    auto fresh = build(files_);
    std::lock_guard lock{mutex_};
    context_ = std::move(fresh);
}

std::shared_ptr<ssl::context> TlsContext::current() const {
    std::lock_guard lock{mutex_};
    return context_;
}

std::shared_ptr<ssl::context> TlsContext::build(const TlsFiles& files) {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
    use("TLS certificate", files.certificate_file, [&] { context->use_certificate_chain_file(files.certificate_file); });
    use("TLS private key", files.private_key_file,
        [&] { context->use_private_key_file(files.private_key_file, ssl::context::pem); });
    if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
        throw TlsError("the TLS private key " + files.private_key_file + " does not match the certificate " +
                                 files.certificate_file);
    }
    if (!files.client_ca_file.empty()) {
        use("client CA", files.client_ca_file, [&] { context->load_verify_file(files.client_ca_file); });
        // Asked of every client, required by the routes that need it: browsers and CI systems
        // without certificates still reach the dashboard and the API with their tokens.
        context->set_verify_mode(ssl::verify_peer);
        SSL_CTX_set_client_CA_list(context->native_handle(), SSL_load_client_CA_file(files.client_ca_file.c_str()));
    }
    return context;
}

} // namespace macvmorx::http
