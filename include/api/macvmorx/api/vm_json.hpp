#pragma once

// The JSON shapes of VMs in the API: placement requests in, records out. What agents send and
// receive about VMs (commands, progress events) is the protocol's: protocol/command_json.hpp,
// protocol/vm_event_json.hpp.

#include "macvmorx/lifecycle/pending_reason.hpp"
#include "macvmorx/lifecycle/vm_record.hpp"
#include "macvmorx/protocol/heartbeat.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace macvmorx {
class JsonWriter;
}

namespace macvmorx::api {

inline constexpr std::size_t max_metadata_bytes = 8 << 10;
// Priorities a request may carry: higher first (docs/scheduling.md).
inline constexpr int max_priority = 1000;

// A `POST /api/schedule-vm` body.
struct VmRequest {
    std::string vm_id; // empty: macvmorx names it
    lifecycle::VmSpec spec;
    bool wait = false;
};

// Throws MalformedInput / InvalidValue like the heartbeat parser.
VmRequest parse_vm_request(std::string_view body);
// The `state` query parameter of `GET /api/vms`; throws InvalidValue.
protocol::VmState parse_state_filter(std::string_view text);

// How much of a VM record to write: a listing leaves out its transitions (half its bytes, and
// what only a look at one VM needs); GET /api/vms/{id} has them.
enum class VmDetail { listed, full };

// A VM record; `reported` is the VM as its node's last heartbeat describes it, if it does;
// `pending` why it waits, for a pending VM.
void write_vm(JsonWriter& json, const lifecycle::VmRecord& vm, const protocol::VmReport* reported,
              const lifecycle::PendingReason* pending = nullptr, VmDetail detail = VmDetail::full);
// The same members, without the braces, for an object that adds its own.
void write_vm_members(JsonWriter& json, const lifecycle::VmRecord& vm, const protocol::VmReport* reported,
                      const lifecycle::PendingReason* pending, VmDetail detail);
// {"code":"noFreeSlot","nodes":{...},"aheadInQueue":12,"tenantAtCap":false[,"missingLabels":[...]]}
void write_pending_reason(JsonWriter& json, const lifecycle::PendingReason& reason);
std::string pending_reason_json(const lifecycle::PendingReason& reason);
// The reason in one sentence for a person ("every node that fits is full: 190 of 200").
std::string describe(const lifecycle::PendingReason& reason);

} // namespace macvmorx::api
