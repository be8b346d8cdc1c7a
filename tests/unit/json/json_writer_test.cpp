#include "macvmorx/base/timestamp.hpp"
#include "macvmorx/json/json_writer.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <random>

using macvmorx::JsonWriter;

TEST(JsonWriter, PlacesCommasBetweenMembersAndElements) {
    std::string out;
    JsonWriter json{out};
    json.begin_object()
        .field("a", 1)
        .key("list")
        .begin_array()
        .value(1)
        .value("two")
        .begin_object()
        .end_object()
        .begin_array()
        .end_array()
        .end_array()
        .field("ok", true)
        .key("nothing")
        .null()
        .end_object();
    EXPECT_EQ(out, R"({"a":1,"list":[1,"two",{},[]],"ok":true,"nothing":null})");
}

TEST(JsonWriter, EscapesEverythingJsonRequires) {
    static constexpr char raw[] = "quote\" back\\ nl\n tab\t bell\x07 nul\0";
    const std::string_view text{raw, sizeof raw - 1};
    std::string out;
    JsonWriter{out}.value(text);
    EXPECT_EQ(out, R"("quote\" back\\ nl\n tab\t bell\u0007 nul\u0000")");
    EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), text);
}

TEST(JsonWriter, WritesNumbersExactlyAndNonFiniteAsNull) {
    std::string out;
    JsonWriter json{out};
    json.begin_array().value(45.2).value(16.0).value(std::int64_t{-3}).value(1e300 * 1e300).end_array();
    EXPECT_EQ(out, "[45.2,16,-3,null]");
}

TEST(JsonWriter, WritesTimesAsRfc3339Strings) {
    std::string out;
    JsonWriter{out}.value(macvmorx::from_unix_millis(1'000));
    EXPECT_EQ(out, R"("1970-01-01T00:00:01.000Z")");
}

TEST(JsonWriter, NumbersReadBackAsTheSameDoubleOnEitherPath) {
    // Every value must read back as the very same double, and be no longer than std::to_chars's
    // shortest form by more than its exponent notation saves.
    std::mt19937_64 random{7};
    std::uniform_real_distribution<double> any{-1e6, 1e6};
    std::vector<double> values{0.0, -0.0, 45.2, 16, 8.5, 0.001, 0.1, 0.3, 1e11, 999999999999.999, 2.675, -12.5,
                               0.0005, 123456789.123, 1.0 / 3, 1e-7, 1e15, 5e-324};
    for (int i = 0; i < 2000; ++i) values.push_back(any(random));
    for (int i = 0; i < 2000; ++i) values.push_back(std::round(any(random) * 1000) / 1000);
    for (const double value : values) {
        std::string out;
        JsonWriter{out}.value(value);
        EXPECT_EQ(std::strtod(out.c_str(), nullptr), value) << out;
        EXPECT_EQ(nlohmann::json::parse(out).get<double>(), value) << out;
        char shortest[32];
        const auto end = std::to_chars(shortest, shortest + sizeof shortest, value).ptr;
        EXPECT_LE(out.size(), static_cast<std::size_t>(end - shortest) + 8) << out;
    }
}

TEST(JsonWriter, StringsStayValidUtf8WhateverTheyHold) {
    // A client's path may hold any bytes: the answer must still parse as JSON (RFC 8259 §8.1).
    const auto quoted = [](std::string_view text) {
        std::string out;
        macvmorx::append_json_string(out, text);
        return out;
    };
    EXPECT_EQ(quoted("caf\xC3\xA9 \xE2\x80\x9C\xF0\x9F\x8D\x8E"), "\"caf\xC3\xA9 \xE2\x80\x9C\xF0\x9F\x8D\x8E\"") << "valid: as is";
    EXPECT_EQ(quoted("a\xFFz"), "\"a\\ufffdz\"") << "a byte that starts nothing";
    EXPECT_EQ(quoted("\xC3"), "\"\\ufffd\"") << "cut short";
    EXPECT_EQ(quoted("\xC0\xAF"), "\"\\ufffd\\ufffd\"") << "an overlong '/'";
    EXPECT_EQ(quoted("\xED\xA0\x80"), "\"\\ufffd\\ufffd\\ufffd\"") << "a surrogate";
    EXPECT_EQ(quoted("\xF4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"") << "past U+10FFFF";
    EXPECT_EQ(quoted("\"\x01\xE9\""), "\"\\\"\\u0001\\ufffd\\\"\"");
}
