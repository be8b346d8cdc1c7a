#include "macvmorx/base/byte_size.hpp"

#include <array>
#include <charconv>
#include <limits>

namespace macvmorx {
namespace {

struct SizeUnit {
    std::string_view name;
    std::uint64_t bytes;
};

constexpr std::array<SizeUnit, 8> size_units{{
    {"B", 1},
    {"KiB", 1ull << 10},
    {"MiB", 1ull << 20},
    {"GiB", 1ull << 30},
    {"KB", 1'000},
    {"MB", 1'000'000},
    {"GB", 1'000'000'000},
    {"", 1},
}};

} // namespace

std::optional<std::uint64_t> parse_byte_size(std::string_view text) {
    std::uint64_t number = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec != std::errc{} || end == text.data()) return std::nullopt;
    const std::string_view unit = text.substr(static_cast<std::size_t>(end - text.data()));
    for (const auto& candidate : size_units) {
        if (candidate.name != unit) continue;
        if (number > std::numeric_limits<std::uint64_t>::max() / candidate.bytes) return std::nullopt;
        return number * candidate.bytes;
    }
    return std::nullopt;
}

std::string format_byte_size(std::uint64_t bytes) {
    if (bytes != 0 && bytes % (1ull << 30) == 0) return std::to_string(bytes >> 30) + "GiB";
    if (bytes != 0 && bytes % (1ull << 20) == 0) return std::to_string(bytes >> 20) + "MiB";
    if (bytes != 0 && bytes % (1ull << 10) == 0) return std::to_string(bytes >> 10) + "KiB";
    return std::to_string(bytes) + "B";
}

} // namespace macvmorx
