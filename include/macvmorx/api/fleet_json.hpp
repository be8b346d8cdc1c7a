#pragma once

// The JSON shapes of the fleet API: heartbeats in, nodes out. Field names are the wire names
// of the agent protocol (camelCase).

#include "macvmorx/fleet/node_record.hpp"

#include <string>
#include <string_view>

namespace macvmorx {
class JsonWriter;
}

namespace macvmorx::api {

// Limits on one heartbeat, beyond which it is refused with 422.
inline constexpr std::size_t max_vms_per_heartbeat = 64;
inline constexpr std::size_t max_cached_images = 256;
// The text one host's report may make the daemon keep (Heartbeat::text_bytes): a real Mac sends
// about 1 KiB; past this a heartbeat is refused (422), whatever its fields' own limits allow.
inline constexpr std::size_t max_heartbeat_text_bytes = 16 * 1024;

// Capacity figures shown with a node.
struct NodeCapacity {
    int max_vms = 2;
    int reserved_slots = 0; // placements it has not reported yet
};

// Parses and validates a heartbeat body. Throws http::BadRequest (not JSON, nodeId missing,
// wrong types) or http::Unprocessable (a value out of range). Valid heartbeats take a fast path
// (simdjson); anything else gets the checked parser's precise answer.
fleet::Heartbeat parse_heartbeat(std::string_view body);
// The checked parser alone (nlohmann): the reference the fast path must agree with.
fleet::Heartbeat parse_heartbeat_checked(std::string_view body);

// Checks a node id from a path or a body; throws http::Unprocessable naming `field`.
void check_node_id(std::string_view node_id, const std::string& field);

void write_labels(JsonWriter& json, const fleet::Labels& labels);

// Writes a heartbeat as an agent sends it (the inverse of parse_heartbeat).
void write_heartbeat(JsonWriter& json, const fleet::Heartbeat& heartbeat);

// Writes one node: the last heartbeat's fields plus lastSeen, firstSeen, isOnline, drained,
// labels and its slots.
void write_node(JsonWriter& json, const fleet::NodeRecord& node, const NodeCapacity& capacity);

} // namespace macvmorx::api
