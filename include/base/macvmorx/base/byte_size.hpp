#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace macvmorx {

// Bytes in a GiB, for the figures the agent reports in GB (as macOS counts them: 1024³).
inline constexpr double bytes_per_gib = 1024.0 * 1024.0 * 1024.0;

// Parses sizes such as "1048576", "512KiB", "1MiB", "2GiB" (powers of 1024) or "1MB" (powers
// of 1000). Returns nullopt for anything else.
std::optional<std::uint64_t> parse_byte_size(std::string_view text);

// "1MiB", "512KiB", "1500B": the largest binary unit that divides the size exactly.
std::string format_byte_size(std::uint64_t bytes);

} // namespace macvmorx
