#include "macvmorx/base/duration.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace macvmorx {
namespace {

struct Unit {
    std::string_view name;
    std::int64_t nanoseconds;
};

// Longer names first so that "ms" is not read as "m" followed by garbage.
constexpr std::array<Unit, 7> units{{
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000}, // µs in UTF-8
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
}};

std::optional<std::int64_t> unit_nanoseconds(std::string_view& rest) {
    const Unit* best = nullptr;
    for (const auto& unit : units) {
        if (rest.starts_with(unit.name) && (best == nullptr || unit.name.size() > best->name.size())) {
            best = &unit;
        }
    }
    if (best == nullptr) return std::nullopt;
    rest.remove_prefix(best->name.size());
    return best->nanoseconds;
}

// strtod, not from_chars: Apple's libc++ reads no floating point with from_chars. It sees only
// digits and dots here, in the C locale (never changed), whose decimal point is '.'.
std::optional<double> parse_decimal(std::string_view digits) {
    const std::string text{digits};
    char* end = nullptr;
    const double number = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size()) return std::nullopt;
    return number;
}

} // namespace

std::optional<Duration> parse_duration(std::string_view text) {
    if (text == "0") return Duration::zero();
    if (text.empty()) return std::nullopt;

    long double total = 0;
    std::string_view rest = text;
    while (!rest.empty()) {
        std::size_t digits = 0;
        while (digits < rest.size() && ((rest[digits] >= '0' && rest[digits] <= '9') || rest[digits] == '.')) {
            ++digits;
        }
        if (digits == 0) return std::nullopt;
        const auto number = parse_decimal(rest.substr(0, digits));
        if (!number) return std::nullopt;
        rest.remove_prefix(digits);
        const auto scale = unit_nanoseconds(rest);
        if (!scale) return std::nullopt;
        total += static_cast<long double>(*number) * static_cast<long double>(*scale);
    }
    // Checked once rounded to a double, against 2^63 (INT64_MAX is no double): a total just below
    // INT64_MAX rounds up to 2^63, which would wrap to a negative duration.
    const double rounded = std::round(static_cast<double>(total));
    if (!(rounded < 0x1p63)) return std::nullopt;
    return Duration{static_cast<std::int64_t>(rounded)};
}

std::string format_duration(Duration duration) {
    auto ns = duration.count();
    if (ns == 0) return "0s";
    std::string out;
    if (ns < 0) {
        out += '-';
        ns = -ns;
    }
    // Whole hours/minutes/seconds read best as "1h30m"; anything with a fraction of a
    // second is printed in the largest sub-second unit that keeps it exact.
    if (ns % 1'000'000'000 == 0) {
        auto seconds = ns / 1'000'000'000;
        const auto hours = seconds / 3600;
        const auto minutes = (seconds % 3600) / 60;
        seconds %= 60;
        if (hours) out += std::to_string(hours) + "h";
        if (minutes) out += std::to_string(minutes) + "m";
        if (seconds) out += std::to_string(seconds) + "s";
        return out;
    }
    if (ns % 1'000'000 == 0) return out + std::to_string(ns / 1'000'000) + "ms";
    if (ns % 1'000 == 0) return out + std::to_string(ns / 1'000) + "us";
    return out + std::to_string(ns) + "ns";
}

} // namespace macvmorx
