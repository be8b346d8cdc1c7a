#pragma once

#include "macvmorx/base/clock.hpp"
#include "macvmorx/fleet/node_record.hpp"
#include "macvmorx/protocol/command.hpp"
#include "macvmorx/protocol/vm_event.hpp"
#include "macvmorx/lifecycle/lifecycle_observer.hpp"
#include "macvmorx/lifecycle/pending_reason.hpp"
#include "macvmorx/lifecycle/vm_record.hpp"

#include <array>
#include <deque>
#include <map>
#include <functional>
#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace macvmorx {
class IdSource;
}
namespace macvmorx::scheduling {
class Scheduler;
}

namespace macvmorx::lifecycle {

class CommandMailbox;
class DeadlineIndex;
struct OrderedRequest;

struct LifecycleOptions {
    // An assigned VM whose agent has not taken the createVm command by then fails (and is
    // placed again): the slot it holds is released.
    Duration placement_ttl = std::chrono::minutes{10};
    // A placed VM not running by then fails (and is placed again): big images take time.
    Duration start_deadline = std::chrono::minutes{15};
    // A queued request not placed by then fails.
    Duration queue_timeout = std::chrono::hours{1};
    // Placements per VM, the first included, before it fails for good.
    int max_attempts = 3;
    // Deleted and failed records stay visible this long.
    Duration retention = std::chrono::hours{1};
    // Records of VMs a node reports that nobody asked for, retained ones included: a host cannot
    // make the daemon keep more (docs/security.md).
    std::size_t max_unmanaged_per_node = 64;
    // Long polls waiting at once per node.
    std::size_t max_waiters_per_node = 4;
    // Requests waiting for a node at most; a request beyond is refused (503), not queued, so that
    // a client in a loop cannot grow the queue, and each change of it, without bound.
    std::size_t max_queue_length = 10'000;
    // The order of the queue: priorities, ageing, tenants' shares and caps.
    QueueOptions queue;
};

enum class RequestOutcome {
    placed,      // assigned to a node
    queued,      // pending until a node fits (the client asked to wait)
    existing,    // the client's vmId names an existing record: nothing new was made
    no_capacity, // nothing fits and the client did not ask to wait: no record was made
    conflict,    // the client's vmId names a record of another image
    queue_full,  // nothing fits and the queue is at its length limit: no record was made
};

struct RequestResult {
    RequestOutcome outcome;
    std::optional<VmRecord> record;
};

enum class EventOutcome { applied, unknown_vm, not_allowed, not_the_callers };

using CommandsReply = std::function<void(std::vector<protocol::Command>)>;

// A waiting request as GET /api/queue shows it.
struct QueuedVm {
    VmRecord vm;
    std::size_t position = 0;   // 1: placed next
    int effective_priority = 0; // its priority raised by waiting
    int tenant_in_use = 0;      // its tenant's VMs placed now
    TenantPolicy tenant_policy;
    PendingReason reason;
};

// What asks for an image among the lifecycle's records.
struct ImageUse {
    int vms_in_use = 0; // placed on a node, not ended
    int queued = 0;     // waiting for a node
};

struct LifecycleCounts {
    std::array<std::size_t, 9> by_state{}; // indexed by VmState
    std::size_t queued = 0;
};

// The state machine of every VM the orchestrator asked for or was told of, the placement queue,
// and the commands waiting for each host agent.
//
// It learns about nodes from the records the node store publishes (heartbeats, the offline
// monitor, operators) and reconciles: the heartbeat's VM list is the truth about what runs.
// Placing a VM and booking its slot happen together, through the scheduler it owns the
// reservations of.
//
// Locking: one mutex guards all of it, and is taken before the scheduler's. Node records are
// applied in revision order (an older one arriving late is ignored). Replies to waiting agents
// and log lines are produced under the lock but delivered after it is released.
//
// Its parts (src/lifecycle/): the client operations, restore and the sweep (vm_lifecycle.cpp);
// the state machine and placement (vm_transitions.cpp); node records (node_reconciliation.cpp);
// agents' events, acknowledgements and polls (agent_reports.cpp). The commands waiting for each
// agent, with the polls waiting for them, are a CommandMailbox; the records' deadlines, a
// DeadlineIndex. Both are guarded by the lifecycle's mutex.
class VmLifecycle {
public:
    VmLifecycle(LifecycleOptions options, scheduling::Scheduler& scheduler, const Clock& clock, IdSource& ids);
    ~VmLifecycle();

    // Observers are added before the lifecycle is used; not owned.
    void add_observer(LifecycleObserver* observer);

    // Brings back the records and the queue of an earlier run (durable records). Reservations
    // are booked again, and commands derived from each VM's state. Call before serving.
    void restore(std::vector<VmRecord> records, const std::vector<std::string>& queue);

    // Clients.
    RequestResult request_vm(const std::string& vm_id, VmSpec spec, bool wait);
    // Starts the deletion of a VM (idempotent); nullopt if unknown.
    std::optional<VmRecord> delete_vm(std::string_view vm_id);
    std::optional<VmRecord> find(std::string_view vm_id) const;
    // Records matching `filter`, oldest first.
    std::vector<VmRecord> list(const VmFilter& filter) const;
    // The pending requests in the order they will be placed.
    std::vector<VmRecord> queue() const;
    // The same, each with its place, its tenant's share and why it waits.
    std::vector<QueuedVm> queue_view() const;
    // Why a pending VM waits; nullopt for an unknown VM or one not pending.
    std::optional<PendingReason> pending_reason(std::string_view vm_id) const;
    // Why a request like `spec` would wait now (a refused placement's 503).
    PendingReason explain(const VmSpec& spec) const;
    // VMs of `tenant` placed now.
    int tenant_in_use(std::string_view tenant) const;
    LifecycleCounts counts() const;
    std::map<std::string, ImageUse, std::less<>> image_use() const;

    // Asks a node's agent to pull an image ahead of demand (pullImage), keeping `keep_images`.
    void send_pull(const std::string& node_id, const std::string& image, std::vector<std::string> keep_images);
    // Takes back a pullImage its agent has not acknowledged (the pull is given up).
    void withdraw_pull(const std::string& node_id, const std::string& image);

    // Node records as the store publishes them.
    // A heartbeat: reconciles the VMs, returns the commands to send the agent.
    std::vector<protocol::Command> on_heartbeat(const fleet::NodeSnapshot& node);
    // Any other change (offline, drained): no new VM list.
    void on_node_changed(const fleet::NodeSnapshot& node);
    void on_node_forgotten(std::string_view node_id);

    // Agents.
    // `may_report(node_id)` says whether the caller speaks for the VM's node: asked under the
    // lock that applies the event, so that the VM cannot move to another node in between.
    EventOutcome record_event(std::string_view vm_id, const protocol::VmEvent& event,
                              const std::function<bool(std::string_view node_id)>& may_report = {});
    // Removes a command the agent has carried out; false if the node has no such command.
    bool acknowledge(std::string_view node_id, std::string_view command_id);
    // Calls `reply` with the node's commands as soon as it has any, or with none at `deadline`.
    // A node has at most max_waiters_per_node waits (one per agent, and some slack): a new one
    // beyond answers the oldest at once. Waits whose `abandoned()` says the client is gone are
    // dropped as soon as they are seen (a new wait, the periodic expiry).
    void wait_for_commands(std::string_view node_id, TimePoint deadline, CommandsReply reply,
                           std::function<bool()> abandoned = {});

    // Periodic work: deadlines, retries, the queue timeout, retention.
    void sweep();
    // Answers long polls whose deadline has passed.
    void expire_waiters();
    // Answers every long poll now (shutdown); later ones are answered at once.
    void release_waiters();

private:
    struct Effects;
    struct NodeState {
        std::atomic<std::uint64_t> revision{0}; // also advanced by quiet heartbeats, under the shared lock
        bool online = false;
        bool speaks_protocol = false; // it acknowledged, reported or polled: it runs our agent protocol
        std::set<std::string> vm_ids;             // records placed on or reported by this node, not final
        // The published record whose VM list was reconciled last: a view, not a copy of its
        // names. A quiet heartbeat (the same VMs) moves it to the newer record, so that it never
        // keeps an older one alive; on the shared lock that takes the node's stripe (stripe_of).
        fleet::NodeSnapshot reconciled;
        std::size_t agent_instance = 0;           // hash of the latest instance a heartbeat named; 0: none
        std::size_t unmanaged_records = 0;        // records of VMs nobody asked for, retained ones too
        // Reservations of VMs whose deletion the agent took before any heartbeat listed them:
        // the clone may still hold its slot, so they are released at the node's next
        // heartbeat, which counts the clone if it is still there.
        std::vector<std::string> held_slots;
        bool unmanaged_refused = false;           // it reported more than it may: said once

        // Whether the reconciled heartbeat lists this host VM name.
        bool reports(std::string_view host_vm_id) const;
    };

    // Every change goes through here, so that what follows a change cannot be forgotten: under
    // the exclusive lock, `change(effects)` changes the records and returns the answer; then
    // notify() sets the deadlines of the records it touched again and tells the observers
    // (durable records, runner jobs, metrics), in order; once the lock is released, the log
    // lines are written and the agents' polls answered. Defined in src/lifecycle/mutation.hpp.
    // (A quiet heartbeat, which changes no record, takes the shared lock instead: on_heartbeat.)
    template <typename Change>
    auto mutate(Change&& change);
    void notify(Effects& effects);

    // Lookups (vm_lifecycle.cpp).
    NodeState& node_state(const std::string& node_id);
    VmRecord* find_record(std::string_view vm_id);
    VmRecord* find_on_node(NodeState& node, const std::string& node_id, std::string_view host_vm_id);

    // The state machine: transitions, placement, the queue, commands (vm_transitions.cpp).
    void transition(VmRecord& vm, VmState state, std::string message, Effects& effects);
    bool place(VmRecord& vm, Effects& effects, double* decision_seconds = nullptr);
    void place_or_queue_first(VmRecord& vm, Effects& effects);
    void place_elsewhere(VmRecord& vm, const std::string& node_id, Effects& effects);
    void drain_queue(Effects& effects);
    // The pending requests of queue_ in the order they will be placed, with the record of each.
    std::vector<std::pair<const VmRecord*, OrderedRequest>> ordered_queue() const;
    bool tenant_at_cap(const std::string& tenant) const;
    void count_for_tenant(VmRecord& vm, bool in_use);
    PendingReason explain_locked(const VmSpec& spec, const std::vector<std::string>& avoid, std::size_t ahead,
                                 bool at_cap) const;
    void detach(VmRecord& vm, Effects& effects);
    void fail(VmRecord& vm, std::string reason, Effects& effects, std::string_view cause);
    void finish(VmRecord& vm, VmState state, std::string message, Effects& effects);
    void start_deletion(VmRecord& vm, Effects& effects);
    protocol::Command create_command(const VmRecord& vm);
    void send_command(const std::string& node_id, protocol::Command command, Effects& effects);
    void send_cleanup(const std::string& node_id, const std::string& vm_id, Effects& effects);

    // What nodes' records say (node_reconciliation.cpp).
    void reconcile(const std::string& node_id, NodeState& node, const fleet::NodeSnapshot& record, Effects& effects);
    // Whether reconciling this heartbeat would change nothing: the node has no commands and
    // reports the same VMs, from the same agent instance, as the last time it was reconciled.
    // `node` is its state, or null for a node not known yet. Called under the shared lock and the
    // node's stripe.
    bool quiet(const fleet::NodeRecord& record, const NodeState* node) const;
    std::mutex& stripe_of(std::string_view node_id) const;
    void node_went_offline(const std::string& node_id, NodeState& node, Effects& effects);
    void agent_restarted(const std::string& node_id, NodeState& node, Effects& effects);

    const LifecycleOptions options_;
    std::vector<LifecycleObserver*> observers_;
    scheduling::Scheduler& scheduler_;
    const Clock& clock_;
    IdSource& ids_;

    // Exclusive for every change; shared for a heartbeat that changes nothing (quiet()), and for
    // the readers of records and the queue alone (find, list, queue, counts, image_use), which
    // a quiet heartbeat does not touch: a listing or the sweep's count of every VM record does
    // not hold heartbeats back.
    mutable std::shared_mutex mutex_;
    std::unordered_map<std::string, VmRecord> vms_;
    std::unordered_map<std::string, NodeState> nodes_; // every node with a mailbox has one
    // Guard NodeState::reconciled between quiet heartbeats, which hold mutex_ shared only.
    mutable std::array<std::mutex, 64> stripes_;
    std::deque<std::string> queue_; // in arrival order; placed in placement_order's
    std::unordered_map<std::string, int> tenant_in_use_; // VMs placed now, by tenant
    std::unique_ptr<CommandMailbox> mailbox_;  // commands for agents, long polls
    std::unique_ptr<DeadlineIndex> deadlines_; // when each record next needs the sweep
};

} // namespace macvmorx::lifecycle
