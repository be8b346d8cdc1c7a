#pragma once

// The heartbeat on the wire (POST /api/heartbeat): the daemon parses it, the agent writes it.
// Field names are camelCase, as docs/agent-protocol.md gives them.

#include "macvmorx/protocol/heartbeat.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace macvmorx {
class JsonWriter;
}

namespace macvmorx::protocol {

// Limits on one heartbeat, beyond which it is refused (InvalidValue: 422).
inline constexpr std::size_t max_vms_per_heartbeat = 64;
inline constexpr std::size_t max_cached_images = 256; // and as many pullingImages
// The text one host's report may make the daemon keep (Heartbeat::text_bytes): a real Mac sends
// about 1 KiB; past this a heartbeat is refused (422), whatever its fields' own limits allow.
inline constexpr std::size_t max_heartbeat_text_bytes = 16 * 1024;

// Parses and validates a heartbeat body. Throws MalformedInput (not JSON, nodeId missing, wrong
// types) or InvalidValue (a value out of range). Valid heartbeats take a fast path (simdjson);
// anything else gets the checked parser's precise answer.
Heartbeat parse_heartbeat(std::string_view body);
// The checked parser alone (nlohmann): the reference the fast path must agree with.
Heartbeat parse_heartbeat_checked(std::string_view body);

// Checks a node id from a path or a body; throws InvalidValue naming `field`.
void check_node_id(std::string_view node_id, const std::string& field);

void write_labels(JsonWriter& json, const Labels& labels);

// Writes a heartbeat as an agent sends it (the inverse of parse_heartbeat).
void write_heartbeat(JsonWriter& json, const Heartbeat& heartbeat);

// The members a heartbeat and the API's view of a node share, nodeId to pullingImages, written
// into an object the caller has begun: the one place a host's report is written out.
void write_report_members(JsonWriter& json, const Heartbeat& report);

} // namespace macvmorx::protocol
