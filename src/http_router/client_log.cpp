#include "macvmorx/http/client_log.hpp"

#include "macvmorx/base/utf8.hpp"

#include <algorithm>

namespace macvmorx::http {

std::string loggable(std::string_view client_text, std::size_t max_bytes) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    const std::size_t shown = std::min(client_text.size(), max_bytes);
    out.reserve(shown + 16);
    for (std::size_t i = 0; i < shown; ++i) {
        const auto c = static_cast<unsigned char>(client_text[i]);
        if (c >= 0x80) {
            if (const auto length = utf8_sequence_length(client_text, i); length > 0 && i + length <= shown) {
                out.append(client_text.substr(i, length));
                i += length - 1;
                continue;
            }
        } else if (c >= 0x20 && c != 0x7F && c != '\\') {
            out += static_cast<char>(c);
            continue;
        }
        out += "\\x";
        out += hex[c >> 4];
        out += hex[c & 0xF];
    }
    if (shown < client_text.size()) out += "... (" + std::to_string(client_text.size() - shown) + " more bytes)";
    return out;
}

std::optional<std::uint64_t> ClientErrorThrottle::admit() {
    std::lock_guard lock{mutex_};
    const auto now = std::chrono::steady_clock::now();
    tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * per_second_);
    last_ = now;
    if (tokens_ < 1) {
        ++suppressed_;
        return std::nullopt;
    }
    tokens_ -= 1;
    const std::uint64_t unlogged = suppressed_;
    suppressed_ = 0;
    return unlogged;
}


} // namespace macvmorx::http
