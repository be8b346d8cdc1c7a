#pragma once

#include "macvmorx/base/clock.hpp"
#include "macvmorx/protocol/labels.hpp"
#include "macvmorx/protocol/vm_state.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace macvmorx::lifecycle {

// The states of a VM are the protocol's words: agents report them, the API shows them.
using protocol::VmState;

// What the client asked for.
struct VmSpec {
    std::string image_name;
    protocol::Labels labels; // the host must carry these
    std::optional<int> cpu;
    std::optional<double> memory_gb;
    std::string metadata_json; // a JSON object, stored and echoed as sent; empty when none
    // A secret for the guest (a GitHub just-in-time runner configuration): carried only in the
    // createVm command to the VM's host, never echoed, logged or written to disk.
    std::string runner_config;
    // The queue's order (docs/scheduling.md): higher priorities first; within one, tenants share
    // the fleet by weighted fair share. An empty tenant is the tenant of everyone unnamed.
    int priority = 0;
    std::string tenant;
};

struct VmTransition {
    VmState state;
    TimePoint at;
    std::string node_id;
    std::string message;
};

struct VmRecord {
    std::string vm_id;
    VmSpec spec;
    VmState state = VmState::pending;
    std::string node_id; // empty while pending
    bool image_cached = false;
    bool managed = true; // false for VMs a host runs that nobody asked macvmorx for
    TimePoint created_at;
    TimePoint updated_at;
    TimePoint assigned_at; // of the current placement
    int attempts = 0;      // placements made so far
    std::string failure_reason;
    std::string message;            // the agent's latest progress message
    std::optional<double> progress; // 0..1, from the agent
    std::vector<VmTransition> transitions;

    // Bookkeeping of the orchestrator, not shown to clients.
    // The name the host reports the VM under: vm_id, unless an agent that does not speak the
    // command protocol named it itself.
    std::string host_vm_id;
    bool seen_on_host = false;  // the current node's heartbeat has listed it
    bool reserved = false;      // holds a scheduler reservation on node_id
    bool counted_for_tenant = false; // counted among its tenant's VMs in use (placed, not ended)
    bool delete_acked = false;  // the agent acknowledged the deleteVm command
    TimePoint deleting_since;
    std::vector<std::string> previous_nodes; // placed there before; avoided when placing again
    std::optional<TimePoint> deadline;       // when the sweep next looks at it
};

struct VmFilter {
    std::optional<VmState> state;
    std::string node_id;
    std::string image_name;
};

} // namespace macvmorx::lifecycle
