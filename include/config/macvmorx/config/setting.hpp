#pragma once

#include "macvmorx/base/clock.hpp"

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string_view>

namespace macvmorx::config {

// One setting of a command: its flag, environment variable, settings-file key, default, unit and
// help in one place. The command line, the defaults of the settings' structs and a test of the
// docs' tables all read them from a table of these.
struct Setting {
    std::string_view flags;        // as CLI11 takes them, "-p,--port": the long flag comes last
    std::string_view env;          // its environment variable; empty: none
    std::string_view config_key;   // its key in a settings file; empty: the command reads none
    std::string_view default_text; // as written on the command line; empty: none, or worked out at start
    std::string_view unit;         // DURATION, SIZE, ADDRESS or URL: the value is checked as one
    std::string_view help;

    constexpr std::string_view long_flag() const { return flags.substr(flags.rfind(',') + 1); }
};

// The setting whose long flag this is. Throws std::out_of_range for none, which does not compile
// where evaluated at compile time.
constexpr const Setting& find_setting(std::span<const Setting> table, std::string_view long_flag) {
    for (const Setting& setting : table) {
        if (setting.long_flag() == long_flag) return setting;
    }
    throw std::out_of_range("no such setting");
}

// Defaults read at compile time, so that a default a struct cannot hold does not build.
namespace setting_default {

constexpr std::uint64_t leading_number(std::string_view& text) {
    std::uint64_t number = 0;
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
        number = number * 10 + static_cast<std::uint64_t>(text[digits] - '0');
        ++digits;
    }
    if (digits == 0) throw std::invalid_argument("a default that is not a number");
    text.remove_prefix(digits);
    return number;
}

template <typename Number> consteval Number number(const Setting& setting) {
    std::string_view text = setting.default_text;
    const std::uint64_t value = leading_number(text);
    if (!text.empty()) throw std::invalid_argument("a default that is not a whole number");
    return static_cast<Number>(value);
}

// Whole units only: 500ms, 30s, 10m, 1h, 1m30s.
consteval Duration duration(const Setting& setting) {
    std::string_view text = setting.default_text;
    std::chrono::nanoseconds total{0};
    while (!text.empty()) {
        const auto value = static_cast<std::int64_t>(leading_number(text));
        if (text.starts_with("ms")) {
            total += std::chrono::milliseconds{value};
            text.remove_prefix(2);
        } else if (text.starts_with("s")) {
            total += std::chrono::seconds{value};
            text.remove_prefix(1);
        } else if (text.starts_with("m")) {
            total += std::chrono::minutes{value};
            text.remove_prefix(1);
        } else if (text.starts_with("h")) {
            total += std::chrono::hours{value};
            text.remove_prefix(1);
        } else {
            throw std::invalid_argument("a default that is not a duration");
        }
    }
    return std::chrono::duration_cast<Duration>(total);
}

// 65536, 512KiB, 1MiB, 1GiB.
consteval std::uint64_t byte_size(const Setting& setting) {
    std::string_view text = setting.default_text;
    const std::uint64_t value = leading_number(text);
    if (text.empty()) return value;
    if (text == "KiB") return value << 10;
    if (text == "MiB") return value << 20;
    if (text == "GiB") return value << 30;
    throw std::invalid_argument("a default that is not a size");
}

} // namespace setting_default

} // namespace macvmorx::config
