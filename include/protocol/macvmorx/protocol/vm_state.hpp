#pragma once

#include <optional>
#include <string_view>

namespace macvmorx::protocol {

// The life of a VM the orchestrator knows of:
//
//   pending ──> assigned ──> provisioning ──> running ──> deleting ──> deleted
//      │           │  │            │             │   ╲                    ▲
//      │           │  └────────────┴──> failed   │    lost (node offline)─┘
//      └───────────┴──────────────────> (placed again while attempts remain)
//
// `unmanaged` is a VM a host reports that the orchestrator never asked for; `lost` a running VM
// whose host went offline. `deleted` and `failed` are final.
enum class VmState { pending, assigned, provisioning, running, deleting, deleted, failed, lost, unmanaged };

std::string_view to_string(VmState state);
std::optional<VmState> parse_vm_state(std::string_view text);

inline bool is_final(VmState state) { return state == VmState::deleted || state == VmState::failed; }
// Placed, and not yet reported running: its host is still making it.
inline bool is_starting(VmState state) { return state == VmState::assigned || state == VmState::provisioning; }

} // namespace macvmorx::protocol
