#include "macvmorx/jwt/rs256.hpp"

#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

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

namespace {

std::optional<std::string> base64url_decode(std::string_view text) {
    std::string out;
    std::uint32_t buffer = 0;
    int bits = 0;
    for (const char c : text) {
        int value = -1;
        if (c >= 'A' && c <= 'Z') value = c - 'A';
        else if (c >= 'a' && c <= 'z') value = c - 'a' + 26;
        else if (c >= '0' && c <= '9') value = c - '0' + 52;
        else if (c == '-') value = 62;
        else if (c == '_') value = 63;
        if (value < 0) return std::nullopt;
        buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buffer >> bits) & 0xFF);
        }
    }
    return out;
}

std::string pem_of(EVP_PKEY* key, bool private_half) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio{BIO_new(BIO_s_mem()), &BIO_free};
    const int written = private_half ? PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)
                                     : PEM_write_bio_PUBKEY(bio.get(), key);
    if (written != 1) throw std::runtime_error("cannot write an RSA key as PEM");
    char* data = nullptr;
    const long length = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(length));
}

} // namespace

std::optional<std::string> verified_rs256_claims(std::string_view token, std::string_view public_key_pem) {
    const auto first = token.find('.');
    const auto last = token.rfind('.');
    if (first == std::string_view::npos || first == last) return std::nullopt;
    const auto header_text = base64url_decode(token.substr(0, first));
    const auto claims = base64url_decode(token.substr(first + 1, last - first - 1));
    const auto signature = base64url_decode(token.substr(last + 1));
    if (!header_text || !claims || !signature) return std::nullopt;
    const auto header = nlohmann::json::parse(*header_text, nullptr, false);
    if (!header.is_object() || header.value("alg", std::string{}) != "RS256") return std::nullopt;

    std::unique_ptr<BIO, decltype(&BIO_free)> bio{BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size())),
                                                  &BIO_free};
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr,
                                                            &EVP_PKEY_free};
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
    if (!key || EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA || !context ||
        EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1) {
        return std::nullopt;
    }
    const auto signing_input = token.substr(0, last);
    const bool valid = EVP_DigestVerify(context.get(), reinterpret_cast<const unsigned char*>(signature->data()), signature->size(),
                                        reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
    if (!valid) return std::nullopt;
    return claims;
}

RsaKeyPair generate_rsa_key() {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{EVP_RSA_gen(2048), &EVP_PKEY_free};
    if (!key) throw std::runtime_error("OpenSSL cannot make an RSA key here");
    return {pem_of(key.get(), true), pem_of(key.get(), false)};
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
