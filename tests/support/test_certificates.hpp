#pragma once

// A certificate authority and certificates made at run time (no private key is ever committed),
// for tests of TLS on both sides: the daemon's outgoing calls and, later, its own listener.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace macvmorx::testing {

struct Certificate {
    std::string certificate_pem;
    std::string private_key_pem;
};

namespace detail {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

inline std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long length = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(length));
}

inline std::string key_pem(EVP_PKEY* key) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio{BIO_new(BIO_s_mem()), &BIO_free};
    PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
    return bio_text(bio.get());
}

inline std::string certificate_pem(X509* certificate) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio{BIO_new(BIO_s_mem()), &BIO_free};
    PEM_write_bio_X509(bio.get(), certificate);
    return bio_text(bio.get());
}

inline void add_extension(X509* certificate, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
    if (!extension) throw std::runtime_error("bad X509 extension " + value);
    X509_add_ext(certificate, extension, -1);
    X509_EXTENSION_free(extension);
}

inline X509Ptr new_certificate(EVP_PKEY* key, const std::string& common_name, long serial) {
    X509Ptr certificate{X509_new(), &X509_free};
    X509_set_version(certificate.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(certificate.get()), serial);
    X509_gmtime_adj(X509_getm_notBefore(certificate.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(certificate.get()), 24L * 3600);
    X509_set_pubkey(certificate.get(), key);
    X509_NAME* name = X509_get_subject_name(certificate.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                               -1, 0);
    return certificate;
}

} // namespace detail

// A CA that can issue certificates. Keys are P-256: quick to make.
class TestCertificateAuthority {
public:
    explicit TestCertificateAuthority(const std::string& name = "macvmorx test CA")
        : key_{EVP_EC_gen("P-256"), &EVP_PKEY_free}, certificate_{nullptr, &X509_free} {
        if (!key_) throw std::runtime_error("EVP_EC_gen failed");
        certificate_ = detail::new_certificate(key_.get(), name, 1);
        X509_set_issuer_name(certificate_.get(), X509_get_subject_name(certificate_.get()));
        detail::add_extension(certificate_.get(), certificate_.get(), NID_basic_constraints, "critical,CA:TRUE");
        detail::add_extension(certificate_.get(), certificate_.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
        if (X509_sign(certificate_.get(), key_.get(), EVP_sha256()) == 0) throw std::runtime_error("X509_sign failed");
    }

    std::string certificate_pem() const { return detail::certificate_pem(certificate_.get()); }

    // `alt_names` in OpenSSL's form: "DNS:localhost", "IP:127.0.0.1".
    Certificate issue(const std::string& common_name, const std::vector<std::string>& alt_names) {
        detail::KeyPtr key{EVP_EC_gen("P-256"), &EVP_PKEY_free};
        if (!key) throw std::runtime_error("EVP_EC_gen failed");
        auto certificate = detail::new_certificate(key.get(), common_name, ++serial_);
        X509_set_issuer_name(certificate.get(), X509_get_subject_name(certificate_.get()));
        std::string names;
        for (const auto& alt : alt_names) names += (names.empty() ? "" : ",") + alt;
        if (!names.empty()) detail::add_extension(certificate.get(), certificate_.get(), NID_subject_alt_name, names);
        detail::add_extension(certificate.get(), certificate_.get(), NID_basic_constraints, "critical,CA:FALSE");
        detail::add_extension(certificate.get(), certificate_.get(), NID_ext_key_usage, "serverAuth,clientAuth");
        if (X509_sign(certificate.get(), key_.get(), EVP_sha256()) == 0) throw std::runtime_error("X509_sign failed");
        return {detail::certificate_pem(certificate.get()), detail::key_pem(key.get())};
    }

private:
    detail::KeyPtr key_;
    detail::X509Ptr certificate_;
    long serial_ = 1;
};

} // namespace macvmorx::testing
