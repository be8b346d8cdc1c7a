#include "macvmorx/object_store/sigv4.hpp"

#include "macvmorx/base/ascii.hpp"
#include "macvmorx/base/hex.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>

namespace macvmorx::object_store {
namespace {

using Digest = std::array<unsigned char, 32>;

Digest hmac(std::string_view key, std::string_view data) {
    Digest digest{};
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), digest.data(), &length);
    return digest;
}

std::string_view view(const Digest& digest) {
    return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}

// A header value as SigV4 signs it: trimmed, inner runs of spaces made one.
std::string canonical_value(std::string_view value) {
    std::string result;
    bool space = false;
    for (const char c : value) {
        if (c == ' ' || c == '\t') {
            space = !result.empty();
            continue;
        }
        if (space) result += ' ';
        space = false;
        result += c;
    }
    return result;
}

} // namespace

std::string uri_encode(std::string_view text, bool keep_slash) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string encoded;
    encoded.reserve(text.size());
    for (const unsigned char c : text) {
        const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                                c == '.' || c == '_' || c == '~';
        if (unreserved || (keep_slash && c == '/')) {
            encoded += static_cast<char>(c);
        } else {
            encoded += '%';
            encoded += digits[c >> 4];
            encoded += digits[c & 0xF];
        }
    }
    return encoded;
}

std::string sha256_hex(std::string_view data) {
    Digest digest{};
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
    return to_hex(digest.data(), digest.size());
}

SigV4Signature sign_v4(const SigV4Request& request, const SigV4Scope& scope, const AwsCredentials& credentials) {
    SigV4Signature result;

    // Query: names and values encoded, sorted by name, then value.
    std::vector<std::pair<std::string, std::string>> query;
    for (const auto& [name, value] : request.query) query.emplace_back(uri_encode(name, false), uri_encode(value, false));
    std::sort(query.begin(), query.end());
    std::string canonical_query;
    for (const auto& [name, value] : query) {
        if (!canonical_query.empty()) canonical_query += '&';
        canonical_query += name + "=" + value;
    }

    // Headers: names in lower case, sorted; the values of a repeated name joined by ','.
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto& [name, value] : request.headers) headers.emplace_back(ascii_lower(name), canonical_value(value));
    std::stable_sort(headers.begin(), headers.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string canonical_headers;
    for (std::size_t i = 0; i < headers.size(); ++i) {
        if (i > 0 && headers[i].first == headers[i - 1].first) {
            canonical_headers.back() = ','; // the previous line's newline
            canonical_headers += headers[i].second + "\n";
            continue;
        }
        canonical_headers += headers[i].first + ":" + headers[i].second + "\n";
        if (!result.signed_headers.empty()) result.signed_headers += ';';
        result.signed_headers += headers[i].first;
    }

    result.canonical_request = request.method + "\n" + request.path + "\n" + canonical_query + "\n" + canonical_headers +
                               "\n" + result.signed_headers + "\n" + request.payload_hash;

    const std::string date = scope.timestamp.substr(0, 8);
    const std::string credential_scope = date + "/" + scope.region + "/" + scope.service + "/aws4_request";
    result.string_to_sign =
        "AWS4-HMAC-SHA256\n" + scope.timestamp + "\n" + credential_scope + "\n" + sha256_hex(result.canonical_request);

    // The signing key: HMAC chained over the date, region, service and "aws4_request".
    const Digest date_key = hmac("AWS4" + credentials.secret_access_key, date);
    const Digest region_key = hmac(view(date_key), scope.region);
    const Digest service_key = hmac(view(region_key), scope.service);
    const Digest signing_key = hmac(view(service_key), "aws4_request");
    const Digest signature = hmac(view(signing_key), result.string_to_sign);
    result.signature = to_hex(signature.data(), signature.size());

    result.authorization = "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" + credential_scope +
                           ", SignedHeaders=" + result.signed_headers + ", Signature=" + result.signature;
    return result;
}

} // namespace macvmorx::object_store
