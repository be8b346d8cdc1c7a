#include "macvmorx/http/content_encoding.hpp"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <stdexcept>

namespace macvmorx::http {
namespace {

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

bool iequals(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
    });
}

// A qvalue in thousandths (RFC 9110 §12.4.2: "0", "0.5", "1.000", at most three decimals);
// nullopt when malformed. Parsed by hand: libc++ has no floating-point from_chars.
std::optional<int> parse_qvalue(std::string_view text) {
    if (text.empty() || (text[0] != '0' && text[0] != '1')) return std::nullopt;
    int thousandths = (text[0] - '0') * 1000;
    if (text.size() == 1) return thousandths;
    if (text[1] != '.' || text.size() > 5) return std::nullopt;
    int scale = 100;
    for (const char digit : text.substr(2)) {
        if (digit < '0' || digit > '9') return std::nullopt;
        thousandths += (digit - '0') * scale;
        scale /= 10;
    }
    return thousandths <= 1000 ? std::optional<int>{thousandths} : std::nullopt;
}

// The q-value of one element's parameters ("q=0.5"); 1000 when it has none, 0 when malformed.
int quality(std::string_view parameters) {
    while (!parameters.empty()) {
        const auto semicolon = parameters.find(';');
        const auto parameter = trim(parameters.substr(0, semicolon));
        parameters = semicolon == std::string_view::npos ? std::string_view{} : parameters.substr(semicolon + 1);
        if (parameter.size() < 2 || std::tolower(static_cast<unsigned char>(parameter[0])) != 'q' || parameter[1] != '=') {
            continue;
        }
        return parse_qvalue(trim(parameter.substr(2))).value_or(0);
    }
    return 1000;
}

} // namespace

bool accepts_gzip(std::string_view accept_encoding) {
    std::optional<int> gzip_quality;
    std::optional<int> any_quality;
    while (!accept_encoding.empty()) {
        const auto comma = accept_encoding.find(',');
        const auto element = trim(accept_encoding.substr(0, comma));
        accept_encoding = comma == std::string_view::npos ? std::string_view{} : accept_encoding.substr(comma + 1);
        const auto semicolon = element.find(';');
        const auto coding = trim(element.substr(0, semicolon));
        const auto q = semicolon == std::string_view::npos ? 1000 : quality(element.substr(semicolon + 1));
        if (iequals(coding, "gzip") || iequals(coding, "x-gzip")) {
            gzip_quality = q;
        } else if (coding == "*") {
            any_quality = q;
        }
    }
    if (gzip_quality) return *gzip_quality > 0;
    return any_quality && *any_quality > 0;
}

std::string gzip(std::string_view data, int level) {
    z_stream stream{};
    // windowBits 15 + 16: the gzip wrapper rather than zlib's own; memLevel 8 is zlib's default.
    if (deflateInit2(&stream, std::clamp(level, 1, 9), Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        throw std::runtime_error("zlib: deflateInit2 failed");
    }
    std::string out;
    out.resize(deflateBound(&stream, static_cast<uLong>(data.size())));
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    stream.avail_in = static_cast<uInt>(data.size());
    stream.next_out = reinterpret_cast<Bytef*>(out.data());
    stream.avail_out = static_cast<uInt>(out.size());
    const int result = deflate(&stream, Z_FINISH);
    out.resize(stream.total_out);
    deflateEnd(&stream);
    if (result != Z_STREAM_END) throw std::runtime_error("zlib: deflate did not finish");
    return out;
}

std::string gunzip(std::string_view data) {
    z_stream stream{};
    if (inflateInit2(&stream, 15 + 16) != Z_OK) throw std::runtime_error("zlib: inflateInit2 failed");
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    stream.avail_in = static_cast<uInt>(data.size());
    std::string out;
    char buffer[16384];
    int result = Z_OK;
    while (result != Z_STREAM_END) {
        stream.next_out = reinterpret_cast<Bytef*>(buffer);
        stream.avail_out = sizeof buffer;
        result = inflate(&stream, Z_NO_FLUSH);
        if (result != Z_OK && result != Z_STREAM_END) {
            inflateEnd(&stream);
            throw std::runtime_error("not a gzip stream, or a truncated one");
        }
        out.append(buffer, sizeof buffer - stream.avail_out);
        if (result == Z_OK && stream.avail_in == 0 && stream.avail_out != 0) {
            inflateEnd(&stream);
            throw std::runtime_error("a truncated gzip stream");
        }
    }
    inflateEnd(&stream);
    return out;
}

} // namespace macvmorx::http
