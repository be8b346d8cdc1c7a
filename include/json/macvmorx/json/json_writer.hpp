#pragma once

#include "macvmorx/base/clock.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace macvmorx {

// Appends JSON to a string without building a document first: the responses that list a
// whole fleet are written straight into the body buffer. Commas are placed automatically;
// the caller is responsible for balancing begin/end calls. Not thread-safe (one per body).
class JsonWriter {
public:
    explicit JsonWriter(std::string& out) : out_{out} {}

    JsonWriter& begin_object();
    JsonWriter& end_object();
    JsonWriter& begin_array();
    JsonWriter& end_array();

    // A name from the data (label keys): escaped.
    JsonWriter& key(std::string_view name);
    // A name written in the code ("nodeId"): such names never need escaping.
    template <std::size_t N>
    JsonWriter& key(const char (&name)[N]) {
        return literal_key(std::string_view{name, N - 1});
    }
    JsonWriter& value(std::string_view text);
    JsonWriter& value(const char* text) { return value(std::string_view{text}); }
    JsonWriter& value(const std::string& text) { return value(std::string_view{text}); }
    JsonWriter& value(double number);
    JsonWriter& value(std::int64_t number);
    JsonWriter& value(int number) { return value(static_cast<std::int64_t>(number)); }
    JsonWriter& value(std::uint64_t number);
    JsonWriter& value(bool flag);
    // A point in time as an RFC 3339 UTC string.
    JsonWriter& value(TimePoint time);
    JsonWriter& null();
    // Inserts already serialised JSON as one value.
    JsonWriter& raw(std::string_view json);

    template <typename T>
    JsonWriter& field(std::string_view name, const T& v) {
        key(name);
        return value(v);
    }
    template <std::size_t N, typename T>
    JsonWriter& field(const char (&name)[N], const T& v) {
        key(name);
        return value(v);
    }

    std::string& buffer() { return out_; }

private:
    void separate();
    JsonWriter& literal_key(std::string_view name);

    std::string& out_;
    bool need_comma_ = false;
};

// Appends `text` as a quoted JSON string.
void append_json_string(std::string& out, std::string_view text);

} // namespace macvmorx
