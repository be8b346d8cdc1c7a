#pragma once

#include "macvmorx/base/clock.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace macvmorx {

// RFC 3339 timestamps in UTC with millisecond precision: "2026-11-25T09:22:00.123Z".
void append_rfc3339(std::string& out, TimePoint time);
std::string format_rfc3339(TimePoint time);

// Accepts RFC 3339 with or without fractional seconds and with "Z" or a numeric offset.
std::optional<TimePoint> parse_rfc3339(std::string_view text);

// Milliseconds since the Unix epoch, the unit durable records and tests use.
std::int64_t to_unix_millis(TimePoint time);
TimePoint from_unix_millis(std::int64_t millis);

} // namespace macvmorx
