#include "macvmorx/base/timestamp.hpp"
#include "macvmorx/json/json_writer.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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
