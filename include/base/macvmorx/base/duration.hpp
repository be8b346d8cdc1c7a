#pragma once

#include "macvmorx/base/clock.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace macvmorx {

// Parses durations the way operators write them: "500ms", "45s", "1m", "1h", "1m30s", "1.5s".
// Units: ns, us (or µs), ms, s, m, h. "0" alone is allowed; other bare numbers and negative
// values are not. Returns nullopt for anything else.
std::optional<Duration> parse_duration(std::string_view text);

// The shortest exact spelling of a duration in the same units ("30s", "10m", "1m30s", "500ms").
std::string format_duration(Duration duration);

} // namespace macvmorx
