#pragma once

#include "macvmorx/protocol/heartbeat.hpp"

#include <optional>
#include <string_view>

namespace macvmorx::protocol {

// The heartbeat path's parser: simdjson's DOM (which validates the whole document) straight
// into a Heartbeat. It applies exactly the checks of the nlohmann-based parser and gives up
// (nullopt) on anything it does not accept, so that the latter, the one source of error
// answers, decides. Private to the protocol module.
std::optional<protocol::Heartbeat> parse_heartbeat_fast(std::string_view body);

} // namespace macvmorx::protocol
