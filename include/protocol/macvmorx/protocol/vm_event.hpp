#pragma once

#include "macvmorx/protocol/vm_state.hpp"

#include <optional>
#include <string>

namespace macvmorx::protocol {

// A progress report from an agent about one VM: POST /api/vms/{vmId}/events.
struct VmEvent {
    VmState state = VmState::provisioning;
    std::string message;
    std::optional<double> progress; // 0 to 1, when the agent can tell
};

} // namespace macvmorx::protocol
