#include "macvmorx/jwt/rs256.hpp"

#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

namespace macvmorx::jwt {

std::string base64url(std::string_view bytes) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const auto n = (std::uint32_t(std::uint8_t(bytes[i])) << 16) | (std::uint32_t(std::uint8_t(bytes[i + 1])) << 8) |
                       std::uint8_t(bytes[i + 2]);
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
        out += alphabet[(n >> 6) & 63];
        out += alphabet[n & 63];
    }
    if (i + 1 == bytes.size()) {
        const auto n = std::uint32_t(std::uint8_t(bytes[i])) << 16;
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
    } else if (i + 2 == bytes.size()) {
        const auto n = (std::uint32_t(std::uint8_t(bytes[i])) << 16) | (std::uint32_t(std::uint8_t(bytes[i + 1])) << 8);
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
        out += alphabet[(n >> 6) & 63];
    }
    return out;
}

std::string sign_rs256(std::string_view claims_json, std::string_view private_key_pem, std::string_view key_id) {
    nlohmann::ordered_json header{{"alg", "RS256"}, {"typ", "JWT"}};
    if (!key_id.empty()) header["kid"] = key_id;
    const std::string signing_input = base64url(header.dump()) + "." + base64url(claims_json);

    std::unique_ptr<BIO, decltype(&BIO_free)> bio{
        BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size())), &BIO_free};
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{
        bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr, &EVP_PKEY_free};
    if (!key || EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) {
        throw std::runtime_error("the key is not an RSA private key in PEM");
    }
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
    const auto* input = reinterpret_cast<const unsigned char*>(signing_input.data());
    std::size_t length = 0;
    if (!context || EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
        EVP_DigestSign(context.get(), nullptr, &length, input, signing_input.size()) != 1) {
        throw std::runtime_error("cannot sign with the key");
    }
    std::vector<unsigned char> signature(length);
    if (EVP_DigestSign(context.get(), signature.data(), &length, input, signing_input.size()) != 1) {
        throw std::runtime_error("cannot sign with the key");
    }
    return signing_input + "." + base64url(std::string_view{reinterpret_cast<const char*>(signature.data()), length});
}

} // namespace macvmorx::jwt
