#include "macvmorx/json/json_writer.hpp"

#include "macvmorx/base/timestamp.hpp"
#include "macvmorx/base/utf8.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

namespace macvmorx {

namespace {

// Signed or not, 64 bits fit in 20 digits and a sign.
template <typename Integer>
void append_integer(std::string& out, Integer number) {
    char buffer[24];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, number);
    out.append(buffer, result.ptr);
}

// The bytes JSON strings must escape: control characters, the quote and the backslash; and the
// bytes that start a multi-byte sequence, checked to be valid UTF-8 (a client's path may not be).
constexpr std::array<bool, 256> needs_escape = [] {
    std::array<bool, 256> table{};
    for (int c = 0; c < 0x20; ++c) table[static_cast<std::size_t>(c)] = true;
    table['"'] = true;
    table['\\'] = true;
    for (int c = 0x80; c < 0x100; ++c) table[static_cast<std::size_t>(c)] = true;
    return table;
}();

} // namespace

void append_json_string(std::string& out, std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    // Most strings need no escaping at all: find the first byte that does, and copy up to it.
    std::size_t first = 0;
    while (first < text.size() && !needs_escape[static_cast<unsigned char>(text[first])]) ++first;
    if (first == text.size()) {
        const std::size_t size = out.size();
        out.resize(size + text.size() + 2);
        char* at = out.data() + size;
        *at = '"';
        std::memcpy(at + 1, text.data(), text.size());
        at[text.size() + 1] = '"';
        return;
    }
    out += '"';
    std::size_t clean_from = 0;
    for (std::size_t i = first; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (!needs_escape[c]) continue;
        if (c >= 0x80) {
            if (const auto length = utf8_sequence_length(text, i); length > 0) {
                i += length - 1; // valid: copied as it is
                continue;
            }
            // Not UTF-8: the replacement character, so that the document stays valid JSON.
            out.append(text.data() + clean_from, i - clean_from);
            clean_from = i + 1;
            out += "\\ufffd";
            continue;
        }
        out.append(text.data() + clean_from, i - clean_from);
        clean_from = i + 1;
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 0xF];
        }
    }
    out.append(text.data() + clean_from, text.size() - clean_from);
    out += '"';
}

void JsonWriter::separate() {
    if (need_comma_) out_ += ',';
    need_comma_ = true;
}

JsonWriter& JsonWriter::begin_object() {
    separate();
    out_ += '{';
    need_comma_ = false;
    return *this;
}

JsonWriter& JsonWriter::end_object() {
    out_ += '}';
    need_comma_ = true;
    return *this;
}

JsonWriter& JsonWriter::begin_array() {
    separate();
    out_ += '[';
    need_comma_ = false;
    return *this;
}

JsonWriter& JsonWriter::end_array() {
    out_ += ']';
    need_comma_ = true;
    return *this;
}

JsonWriter& JsonWriter::literal_key(std::string_view name) {
    const std::size_t size = out_.size();
    const std::size_t comma = need_comma_ ? 1 : 0;
    out_.resize(size + comma + name.size() + 3);
    char* at = out_.data() + size;
    if (comma) *at++ = ',';
    *at++ = '"';
    std::memcpy(at, name.data(), name.size());
    at += name.size();
    *at++ = '"';
    *at = ':';
    need_comma_ = false;
    return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
    separate();
    append_json_string(out_, name);
    out_ += ':';
    need_comma_ = false;
    return *this;
}

JsonWriter& JsonWriter::value(std::string_view text) {
    separate();
    append_json_string(out_, text);
    return *this;
}

namespace {

// Figures such as 45.2 or 16 are exactly the double nearest to a number of thousandths: they
// print from integers, far faster than the general shortest form, with the same digits.
bool append_thousandths(std::string& out, double number) {
    if (!(std::fabs(number) < 1e12) || (number == 0 && std::signbit(number))) return false;
    const double scaled = std::nearbyint(number * 1000);
    if (static_cast<double>(static_cast<std::int64_t>(scaled)) / 1000 != number) return false;
    auto thousandths = static_cast<std::int64_t>(scaled);
    char buffer[32];
    char* at = buffer;
    if (thousandths < 0) {
        *at++ = '-';
        thousandths = -thousandths;
    }
    at = std::to_chars(at, buffer + sizeof buffer, thousandths / 1000).ptr;
    int fraction = static_cast<int>(thousandths % 1000);
    if (fraction != 0) {
        *at++ = '.';
        char digits[3] = {static_cast<char>('0' + fraction / 100), static_cast<char>('0' + fraction / 10 % 10),
                          static_cast<char>('0' + fraction % 10)};
        int count = 3;
        while (digits[count - 1] == '0') --count;
        std::memcpy(at, digits, static_cast<std::size_t>(count));
        at += count;
    }
    out.append(buffer, at);
    return true;
}

} // namespace

JsonWriter& JsonWriter::value(double number) {
    separate();
    if (!std::isfinite(number)) {
        out_ += "null";
        return *this;
    }
    if (append_thousandths(out_, number)) return *this;
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, number);
    out_.append(buffer, result.ptr);
    return *this;
}

JsonWriter& JsonWriter::value(std::int64_t number) {
    separate();
    append_integer(out_, number);
    return *this;
}

JsonWriter& JsonWriter::value(std::uint64_t number) {
    separate();
    append_integer(out_, number);
    return *this;
}

JsonWriter& JsonWriter::value(bool flag) {
    separate();
    out_ += flag ? "true" : "false";
    return *this;
}

JsonWriter& JsonWriter::value(TimePoint time) {
    separate();
    out_ += '"';
    append_rfc3339(out_, time);
    out_ += '"';
    return *this;
}

JsonWriter& JsonWriter::null() {
    separate();
    out_ += "null";
    return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json) {
    separate();
    out_ += json;
    return *this;
}

} // namespace macvmorx
