#pragma once

#include "macvmorx/protocol/vm_state.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace macvmorx::protocol {

// A progress report from an agent about one VM: POST /api/vms/{vmId}/events.
struct VmEvent {
    VmState state = VmState::provisioning;
    std::string message;
    std::optional<double> progress; // 0 to 1, when the agent can tell
};

// The reasons an agent names in a failed event's message ("...: imageChecksumMismatch: <both
// values>") for the failures the daemon acts on (docs/agent-protocol.md).
//   imageChecksumMismatch: the image's bytes disagree with its store's checksum, after one more
//   download from scratch: the object itself is bad, and would fail the same way on any host,
//   so the VM is not placed again.
inline constexpr std::string_view image_checksum_mismatch = "imageChecksumMismatch";

// Whether `message` names `reason` ("<reason>: ...", at its start or after another's ": ").
inline bool names_reason(std::string_view message, std::string_view reason) {
    for (auto at = message.find(reason); at != std::string_view::npos; at = message.find(reason, at + 1)) {
        const bool starts = at == 0 || message.substr(0, at).ends_with(": ");
        if (starts && message.substr(at + reason.size()).starts_with(": ")) return true;
    }
    return false;
}

} // namespace macvmorx::protocol
