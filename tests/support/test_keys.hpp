#pragma once

// RSA keys made at run time for tests (no private key is ever committed), and the check of an
// RS256 JSON Web Token against one.

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace macvmorx::testing {

struct RsaKeyPair {
    std::string private_pem;
    std::string public_pem;
};

inline RsaKeyPair make_rsa_key() {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{EVP_RSA_gen(2048), &EVP_PKEY_free};
    if (!key) throw std::runtime_error("EVP_RSA_gen failed");
    const auto to_text = [](BIO* bio) {
        char* data = nullptr;
        const long length = BIO_get_mem_data(bio, &data);
        return std::string(data, static_cast<std::size_t>(length));
    };
    RsaKeyPair pair;
    std::unique_ptr<BIO, decltype(&BIO_free)> priv{BIO_new(BIO_s_mem()), &BIO_free};
    PEM_write_bio_PrivateKey(priv.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    pair.private_pem = to_text(priv.get());
    std::unique_ptr<BIO, decltype(&BIO_free)> pub{BIO_new(BIO_s_mem()), &BIO_free};
    PEM_write_bio_PUBKEY(pub.get(), key.get());
    pair.public_pem = to_text(pub.get());
    return pair;
}

inline std::string base64url_decode(const std::string& text) {
    std::string padded = text;
    for (char& c : padded) {
        if (c == '-') c = '+';
        if (c == '_') c = '/';
    }
    while (padded.size() % 4 != 0) padded += '=';
    std::string out(padded.size(), '\0');
    const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                       reinterpret_cast<const unsigned char*>(padded.data()), static_cast<int>(padded.size()));
    if (length < 0) return {};
    out.resize(static_cast<std::size_t>(length) - (padded.size() - text.size()));
    return out;
}

// One key for the whole test run: making a 2048-bit key takes a good part of a second.
inline const RsaKeyPair& shared_rsa_key() {
    static const RsaKeyPair key = make_rsa_key();
    return key;
}

// Whether `jwt` is header.payload.signature with a valid RS256 signature by `public_pem`.
inline bool rs256_verifies(const std::string& jwt, const std::string& public_pem) {
    const auto last_dot = jwt.rfind('.');
    if (last_dot == std::string::npos) return false;
    const std::string signing_input = jwt.substr(0, last_dot);
    const std::string signature = base64url_decode(jwt.substr(last_dot + 1));
    std::unique_ptr<BIO, decltype(&BIO_free)> bio{BIO_new_mem_buf(public_pem.data(), static_cast<int>(public_pem.size())),
                                                  &BIO_free};
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr),
                                                            &EVP_PKEY_free};
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
    if (!key || !context || EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1) return false;
    return EVP_DigestVerify(context.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                            reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
}

} // namespace macvmorx::testing
