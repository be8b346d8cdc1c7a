#pragma once

// A VM's progress event on the wire (POST /api/vms/{vmId}/events): the agent writes it, the
// daemon parses it.

#include "macvmorx/protocol/vm_event.hpp"

#include <string_view>

namespace macvmorx {
class JsonWriter;
}

namespace macvmorx::protocol {

// Throws MalformedInput / InvalidValue; an agent may report provisioning, running, failed or
// deleted.
VmEvent parse_vm_event(std::string_view body);
void write_vm_event(JsonWriter& json, const VmEvent& event);

} // namespace macvmorx::protocol
