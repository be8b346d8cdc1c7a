#pragma once

// The JSON shapes of VMs: placement requests and agent events in; records and agent commands out.

#include "macvmorx/fleet/heartbeat.hpp"
#include "macvmorx/lifecycle/command.hpp"
#include "macvmorx/lifecycle/vm_lifecycle.hpp"
#include "macvmorx/lifecycle/vm_record.hpp"

#include <string>
#include <string_view>

namespace macvmorx {
class JsonWriter;
}

namespace macvmorx::api {

inline constexpr std::size_t max_metadata_bytes = 8 << 10;

// A `POST /api/schedule-vm` body.
struct VmRequest {
    std::string vm_id; // empty: macvmorx names it
    lifecycle::VmSpec spec;
    bool wait = false;
};

// Throws http::BadRequest / http::Unprocessable like the heartbeat parser.
VmRequest parse_vm_request(std::string_view body);
lifecycle::VmEvent parse_vm_event(std::string_view body);
// The `state` query parameter of `GET /api/vms`; throws http::Unprocessable.
lifecycle::VmState parse_state_filter(std::string_view text);

// A VM record; `reported` is the VM as its node's last heartbeat describes it, if it does.
void write_vm(JsonWriter& json, const lifecycle::VmRecord& vm, const fleet::VmReport* reported);
void write_command(JsonWriter& json, const lifecycle::Command& command);
void write_commands(JsonWriter& json, const std::vector<lifecycle::Command>& commands);

// The agent's side: the commands in a heartbeat answer or a long poll answer (`"commands"`,
// absent meaning none), and the body of a progress event. Throws http::BadRequest on a body
// that is not what the orchestrator sends.
std::vector<lifecycle::Command> parse_commands(std::string_view body);
void write_vm_event(JsonWriter& json, const lifecycle::VmEvent& event);

} // namespace macvmorx::api
