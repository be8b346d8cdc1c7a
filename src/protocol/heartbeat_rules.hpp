#pragma once

#include "macvmorx/protocol/json_fields.hpp"

#include <cstdint>

namespace macvmorx::protocol {

// The limits of a heartbeat's fields, shared by its two parsers (heartbeat_json.cpp, the one
// source of error answers, and heartbeat_fast_path.cpp, which must accept exactly the same).
// Private to the protocol module.

inline constexpr StringRule optional_image_rule{0, image_name_rule.max_length, image_name_rule.allowed,
                                         image_name_rule.allowed_description};
inline constexpr StringRule hostname_rule{0, 255};
inline constexpr StringRule address_rule{0, 64};
inline constexpr StringRule status_rule{0, 64};

// Large enough for any real Mac, small enough to catch unit mistakes (bytes sent as GB).
inline constexpr double max_gigabytes = 1'000'000;
// Ten years: a VM's runtime past that is a unit mistake too.
inline constexpr std::int64_t max_runtime_seconds = std::int64_t{10} * 365 * 24 * 3600;

} // namespace macvmorx::protocol
