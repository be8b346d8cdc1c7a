#pragma once

// Reading request bodies: parse JSON and take typed, validated fields out of an object, with
// errors that name the field. 400 when the body is not JSON, a required field is missing or a
// field has the wrong type; 422 when a value is of the right type but out of range.
// Private to the API layer: only its sources pay for including nlohmann/json.

#include "macvmorx/fleet/labels.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace macvmorx::api {

inline constexpr std::size_t max_labels = 64;

// Deeper nesting than this is refused before parsing: no body the API takes comes close.
inline constexpr int max_json_depth = 32;

// Parses a body that must be one JSON object. Throws BadRequest.
nlohmann::json parse_json_object(std::string_view body);

// Constraints on a string field.
struct StringRule {
    std::size_t min_length = 0;
    std::size_t max_length = 256;
    // When set, only these characters are allowed (besides that, control characters never are).
    std::string_view allowed = {};
    std::string_view allowed_description = {};
};

// Names for the characters identifiers may use.
inline constexpr std::string_view identifier_characters =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
inline constexpr std::string_view identifier_description = "letters, digits, '.', '_' or '-'";

// Node ids, VM ids and similar names.
inline constexpr StringRule identifier_rule{1, 128, identifier_characters, identifier_description};
// Image names are also OCI references ("ghcr.io/org/macos-sonoma:15.4").
inline constexpr StringRule image_name_rule{1, 256,
                                            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-:/@+",
                                            "letters, digits and . _ - : / @ +"};

// Reads fields of one JSON object. `path` prefixes field names in errors ("vms[2].").
class FieldReader {
public:
    FieldReader(const nlohmann::json& object, std::string path = {});

    bool has(std::string_view key) const;

    std::string required_string(std::string_view key, const StringRule& rule) const;
    std::string string(std::string_view key, const StringRule& rule, std::string fallback = {}) const;
    std::optional<std::string> optional_string(std::string_view key, const StringRule& rule) const;
    double number(std::string_view key, double min, double max, double fallback) const;
    std::optional<double> optional_number(std::string_view key, double min, double max) const;
    std::int64_t integer(std::string_view key, std::int64_t min, std::int64_t max, std::int64_t fallback) const;
    std::optional<std::int64_t> optional_integer(std::string_view key, std::int64_t min, std::int64_t max) const;
    std::optional<bool> optional_boolean(std::string_view key) const;
    std::vector<std::string> string_array(std::string_view key, std::size_t max_items, const StringRule& rule) const;
    // The array under `key` (empty when absent or null), with at most `max_items` elements.
    const nlohmann::json* array(std::string_view key, std::size_t max_items) const;
    // The object under `key`, or nullptr when absent or null.
    const nlohmann::json* object(std::string_view key) const;
    // Labels given as an object ({"arch": "arm64"}) or an array (["arm64", "xcode=16.1"]).
    fleet::Labels labels(std::string_view key) const;

    std::string field_name(std::string_view key) const;

private:
    const nlohmann::json* find(std::string_view key) const;

    const nlohmann::json& object_;
    std::string path_;
};

// Checks one string against a rule; throws Unprocessable naming `field`.
void check_string(std::string_view value, const StringRule& rule, const std::string& field);

} // namespace macvmorx::api
