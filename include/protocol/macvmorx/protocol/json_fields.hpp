#pragma once

// Reading request bodies: parse JSON and take typed, validated fields out of an object, with
// errors that name the field. 400 when the body is not JSON, a required field is missing or a
// field has the wrong type; 422 when a value is of the right type but out of range.
// Included by sources only (of protocol/ and api/), so that only they pay for nlohmann/json.

#include "macvmorx/protocol/labels.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace macvmorx::protocol {

inline constexpr std::size_t max_labels = 64;

// Deeper nesting than this is refused before parsing: no body the API takes comes close.
inline constexpr int max_json_depth = 32;

// Whether JSON text nests arrays and objects deeper than `limit` (brackets outside strings).
bool json_nesting_exceeds(std::string_view text, int limit);

// Parses a body that must be one JSON object. Throws MalformedInput.
nlohmann::json parse_json_object(std::string_view body);

// A set of characters, as a table: membership is one lookup.
struct CharSet {
    std::array<bool, 256> members{};
    constexpr explicit CharSet(std::string_view characters) {
        for (const char c : characters) members[static_cast<unsigned char>(c)] = true;
    }
    constexpr bool contains(char c) const { return members[static_cast<unsigned char>(c)]; }
};

inline constexpr CharSet identifier_characters{"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"};
inline constexpr CharSet image_characters{
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-:/@+"};
inline constexpr CharSet label_key_characters{"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._/-"};

// Constraints on a string field.
struct StringRule {
    std::size_t min_length = 0;
    std::size_t max_length = 256;
    // When set, only these characters are allowed (besides that, control characters never are).
    const CharSet* allowed = nullptr;
    std::string_view allowed_description = {};
};

// Node ids, VM ids and similar names.
inline constexpr StringRule identifier_rule{1, 128, &identifier_characters, "letters, digits, '.', '_' or '-'"};
// The ids of VMs the orchestrator places (a client's vmId, a command's).
inline constexpr StringRule vm_id_rule{1, 64, &identifier_characters, "letters, digits, '.', '_' or '-'"};
// Image names are also OCI references ("ghcr.io/org/macos-sonoma:15.4").
inline constexpr StringRule image_name_rule{1, 256, &image_characters, "letters, digits and . _ - : / @ +"};
inline constexpr StringRule label_key_rule{1, 64, &label_key_characters, "letters, digits and . _ / -"};
inline constexpr StringRule label_value_rule{0, 128};
inline constexpr StringRule agent_instance_rule{0, 64, &identifier_characters, "letters, digits, '.', '_' or '-'"};
inline constexpr CharSet url_characters{
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-:/[]%~"};
// Where an agent serves the images it holds to its peers ("http://mac-07.lab:9100").
inline constexpr StringRule peer_url_rule{0, 256, &url_characters, "a URL: letters, digits and . _ - : / [ ] % ~"};
// A sentence for an operator: any printable text (UTF-8 included), on one line, since no rule
// lets control characters through.
inline constexpr StringRule status_reason_rule{0, 512};

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
    protocol::Labels labels(std::string_view key) const;

    std::string field_name(std::string_view key) const;

private:
    const nlohmann::json* find(std::string_view key) const;

    const nlohmann::json& object_;
    std::string path_;
};

// Checks one string against a rule; throws InvalidValue naming `field`.
void check_string(std::string_view value, const StringRule& rule, const std::string& field);
// The same check, without saying what is wrong.
bool fits(std::string_view value, const StringRule& rule);

} // namespace macvmorx::protocol
