#pragma once

#include <cstddef>
#include <string>

namespace macvmorx {

// Bytes as lower-case hex, two digits a byte: how digests are written (SHA-256 sums, MD5
// ETags, HMAC signatures).
inline std::string to_hex(const unsigned char* data, std::size_t size) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string text;
    text.reserve(size * 2);
    for (std::size_t i = 0; i < size; ++i) {
        text += digits[data[i] >> 4];
        text += digits[data[i] & 0xF];
    }
    return text;
}

} // namespace macvmorx
