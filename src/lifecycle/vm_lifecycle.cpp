#include "macvmorx/lifecycle/vm_lifecycle.hpp"

#include "macvmorx/base/duration.hpp"
#include "macvmorx/base/id_source.hpp"
#include "macvmorx/scheduling/scheduler.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace macvmorx::lifecycle {

using protocol::Command;
using protocol::CommandType;
using protocol::VmEvent;
namespace {

constexpr std::size_t max_transitions = 32;

bool contains(const std::vector<std::string>& items, std::string_view item) {
    return std::find(items.begin(), items.end(), item) != items.end();
}

} // namespace

// What a locked operation produced for the world outside the lock: log lines and replies to
// waiting agents. Run after the mutex is released.
struct VmLifecycle::Effects {
    std::vector<std::pair<spdlog::level::level_enum, std::string>> logs;
    std::vector<std::function<void()>> replies;
    std::vector<std::string> touched; // records changed, for the observers
    enum class QueueChange { joined_back, joined_front, left };
    std::vector<std::pair<std::string, QueueChange>> queue_changes; // in order

    // Formatted only when the line will be written: this runs under the lifecycle's lock.
    template <typename... Args>
    void log(spdlog::level::level_enum level, fmt::format_string<Args...> format, Args&&... args) {
        if (spdlog::should_log(level)) logs.emplace_back(level, fmt::format(format, std::forward<Args>(args)...));
    }
    void touch(const std::string& vm_id) { touched.push_back(vm_id); }
    void run() {
        for (const auto& [level, line] : logs) spdlog::log(level, "{}", line);
        for (const auto& reply : replies) reply();
    }
};

VmLifecycle::VmLifecycle(LifecycleOptions options, scheduling::Scheduler& scheduler, const Clock& clock,
                         IdSource& ids)
    : options_{options}, scheduler_{scheduler}, clock_{clock}, ids_{ids} {}

VmLifecycle::~VmLifecycle() = default;

void VmLifecycle::add_observer(LifecycleObserver* observer) { observers_.push_back(observer); }

// Ends an operation, still under the lock: the deadlines of the records it changed are set
// again, and the observers told, in order.
void VmLifecycle::notify(Effects& effects) {
    std::sort(effects.touched.begin(), effects.touched.end());
    effects.touched.erase(std::unique(effects.touched.begin(), effects.touched.end()), effects.touched.end());
    for (const auto& vm_id : effects.touched) {
        VmRecord* vm = find_record(vm_id);
        if (vm != nullptr) schedule_deadline(*vm);
        for (auto* observer : observers_) {
            if (vm != nullptr) {
                observer->vm_changed(*vm);
            } else {
                observer->vm_removed(vm_id);
            }
        }
    }
    for (const auto& [vm_id, change] : effects.queue_changes) {
        for (auto* observer : observers_) {
            if (change == Effects::QueueChange::left) {
                observer->queue_left(vm_id);
            } else {
                observer->queue_joined(vm_id, change == Effects::QueueChange::joined_front);
            }
        }
    }
}

VmLifecycle::NodeState& VmLifecycle::node_state(const std::string& node_id) { return nodes_[node_id]; }

VmRecord* VmLifecycle::find_record(std::string_view vm_id) {
    const auto it = vms_.find(std::string(vm_id));
    return it == vms_.end() ? nullptr : &it->second;
}

VmRecord* VmLifecycle::find_on_node(NodeState& node, const std::string& node_id, std::string_view host_vm_id) {
    for (const auto& vm_id : node.vm_ids) {
        VmRecord* vm = find_record(vm_id);
        if (vm != nullptr && vm->node_id == node_id && vm->host_vm_id == host_vm_id) return vm;
    }
    return nullptr;
}

void VmLifecycle::restore(std::vector<VmRecord> records, const std::vector<std::string>& queue) {
    Effects effects;
    std::lock_guard lock{mutex_};
    for (auto& record : records) {
        const std::string id = record.vm_id;
        VmRecord& vm = vms_.insert_or_assign(id, std::move(record)).first->second;
        if (is_final(vm.state) || vm.node_id.empty()) continue;
        NodeState& node = node_state(vm.node_id);
        node.vm_ids.insert(id);
        if (vm.managed && vm.host_vm_id == vm.vm_id && vm.seen_on_host) node.speaks_protocol = true;
        if (vm.reserved) {
            scheduler_.restore_reservation(vm.node_id, {vm.spec.image_name, vm.vm_id, {}, vm.spec.memory_gb, {}});
        }
        // What was asked of the agent is asked again: commands are idempotent.
        if (is_starting(vm.state) && !vm.seen_on_host) {
            Command command;
            command.id = ids_.next("cmd");
            command.type = CommandType::create_vm;
            command.vm_id = vm.vm_id;
            command.image_name = vm.spec.image_name;
            command.image_cached = vm.image_cached;
            command.cpu = vm.spec.cpu;
            command.memory_gb = vm.spec.memory_gb;
            command.runner_config = vm.spec.runner_config;
            command.created_at = clock_.now();
            node.commands.push_back(std::move(command));
        } else if (vm.state == VmState::deleting) {
            send_cleanup(vm.node_id, vm.host_vm_id, effects);
        }
    }
    for (const auto& vm_id : queue) {
        const VmRecord* vm = find_record(vm_id);
        if (vm != nullptr && vm->state == VmState::pending) queue_.push_back(vm_id);
    }
    for (auto& [id, vm] : vms_) {
        vm.deadline.reset();
        schedule_deadline(vm);
    }
}

// ---------------------------------------------------------------------------------------------
// Deadlines

// When `vm` next needs the sweep's attention, if ever.
std::optional<TimePoint> VmLifecycle::deadline_of(const VmRecord& vm) const {
    switch (vm.state) {
    case VmState::pending:
        return vm.created_at + options_.queue_timeout;
    case VmState::assigned:
        if (vm.seen_on_host) return std::nullopt;
        return vm.assigned_at + std::min(options_.placement_ttl, options_.start_deadline);
    case VmState::provisioning:
    case VmState::running:
        if (vm.seen_on_host) return std::nullopt;
        return vm.assigned_at + options_.start_deadline;
    case VmState::deleting:
        if (vm.seen_on_host || vm.delete_acked) return std::nullopt;
        return vm.deleting_since + options_.placement_ttl;
    case VmState::deleted:
    case VmState::failed:
        return vm.updated_at + options_.retention;
    case VmState::lost:
    case VmState::unmanaged:
        break;
    }
    return std::nullopt;
}

void VmLifecycle::schedule_deadline(VmRecord& vm) {
    const auto next = deadline_of(vm);
    if (vm.deadline && next && *vm.deadline == *next) return;
    if (vm.deadline) deadlines_.erase({*vm.deadline, vm.vm_id});
    vm.deadline = next;
    if (next) deadlines_.insert({*next, vm.vm_id});
}

// ---------------------------------------------------------------------------------------------
// Transitions and placement

void VmLifecycle::transition(VmRecord& vm, VmState state, std::string message, Effects& effects) {
    const TimePoint now = clock_.now();
    effects.log(spdlog::level::info, "VM {} {} -> {}{}{}{}{}", vm.vm_id, to_string(vm.state), to_string(state),
                vm.node_id.empty() ? "" : " on node ", vm.node_id, message.empty() ? "" : ": ", message);
    if (state == VmState::running && is_starting(vm.state)) {
        const double seconds = std::chrono::duration<double>(now - vm.assigned_at).count();
        for (auto* observer : observers_) observer->started(seconds);
    }
    vm.state = state;
    vm.updated_at = now;
    if (vm.transitions.size() >= max_transitions) vm.transitions.erase(vm.transitions.begin() + 1);
    vm.transitions.push_back({state, now, vm.node_id, std::move(message)});
    effects.touch(vm.vm_id);
}

bool VmLifecycle::place(VmRecord& vm, Effects& effects, double* decision_seconds) {
    scheduling::PlacementRequest request{vm.spec.image_name, vm.vm_id, vm.spec.labels, vm.spec.memory_gb,
                                         vm.previous_nodes};
    const auto decision_start = std::chrono::steady_clock::now();
    const auto placement = scheduler_.place(request);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - decision_start).count();
    if (decision_seconds != nullptr) *decision_seconds = seconds;
    if (!placement) return false;
    for (auto* observer : observers_) observer->placed(placement->image_cached, seconds);

    vm.node_id = placement->node_id;
    vm.image_cached = placement->image_cached;
    vm.assigned_at = clock_.now();
    vm.reserved = true;
    vm.seen_on_host = false;
    vm.delete_acked = false;
    vm.host_vm_id = vm.vm_id;
    ++vm.attempts;
    transition(vm, VmState::assigned,
               placement->image_cached ? "the node holds the image" : "the node will download the image", effects);
    node_state(vm.node_id).vm_ids.insert(vm.vm_id);

    Command command;
    command.id = ids_.next("cmd");
    command.type = CommandType::create_vm;
    command.vm_id = vm.vm_id;
    command.image_name = vm.spec.image_name;
    command.image_cached = vm.image_cached;
    command.cpu = vm.spec.cpu;
    command.memory_gb = vm.spec.memory_gb;
    command.runner_config = vm.spec.runner_config;
    command.created_at = clock_.now();
    send_command(vm.node_id, std::move(command), effects);
    return true;
}

// A request accepted earlier than everything queued goes to the front when it has to wait.
void VmLifecycle::place_or_queue_first(VmRecord& vm, Effects& effects) {
    if (place(vm, effects)) return;
    transition(vm, VmState::pending, "waiting for a node with a free slot", effects);
    queue_.push_front(vm.vm_id);
    effects.queue_changes.emplace_back(vm.vm_id, Effects::QueueChange::joined_front);
}

void VmLifecycle::drain_queue(Effects& effects) {
    for (auto it = queue_.begin(); it != queue_.end();) {
        VmRecord* vm = find_record(*it);
        if (vm == nullptr || vm->state != VmState::pending || place(*vm, effects)) {
            effects.queue_changes.emplace_back(*it, Effects::QueueChange::left);
            it = queue_.erase(it);
            continue;
        }
        // When a request without constraints finds no node, no later one will either.
        if (vm->spec.labels.empty() && !vm->spec.memory_gb && vm->previous_nodes.empty()) return;
        ++it;
    }
}

// Takes the VM off its node: frees its slot, withdraws a createVm the agent has not seen, and
// asks the agent to clean up when it may already be making the VM.
void VmLifecycle::detach(VmRecord& vm, Effects& effects) {
    if (vm.node_id.empty()) return;
    NodeState& node = node_state(vm.node_id);
    if (vm.reserved) {
        scheduler_.release(vm.node_id, vm.vm_id);
        vm.reserved = false;
    }
    const auto create = std::find_if(node.commands.begin(), node.commands.end(), [&vm](const Command& c) {
        return c.type == CommandType::create_vm && c.vm_id == vm.vm_id;
    });
    bool agent_may_have_it = vm.state == VmState::provisioning;
    if (create != node.commands.end()) {
        agent_may_have_it = agent_may_have_it || create->delivered_at.has_value();
        node.commands.erase(create);
    }
    if (agent_may_have_it && !vm.seen_on_host) send_cleanup(vm.node_id, vm.host_vm_id, effects);
    node.vm_ids.erase(vm.vm_id);
}

void VmLifecycle::fail(VmRecord& vm, std::string reason, Effects& effects, std::string_view cause) {
    const std::string node_id = vm.node_id;
    const bool had_started = vm.state == VmState::running || vm.state == VmState::lost;
    // Placing again only helps when macvmorx drives the creation, i.e. the node runs its agent;
    // a VM that ran once has done its job.
    const bool retry = !node_id.empty() && !had_started && vm.attempts < options_.max_attempts &&
                       node_state(node_id).speaks_protocol;
    vm.failure_reason = reason;
    for (auto* observer : observers_) observer->failed(cause, retry);
    if (had_started) send_cleanup(node_id, vm.host_vm_id, effects);
    if (!retry) return finish(vm, VmState::failed, std::move(reason), effects);

    detach(vm, effects);
    if (!contains(vm.previous_nodes, node_id)) vm.previous_nodes.push_back(node_id);
    transition(vm, VmState::failed, reason + "; placing it again", effects);
    vm.node_id.clear();
    place_or_queue_first(vm, effects);
}

void VmLifecycle::finish(VmRecord& vm, VmState state, std::string message, Effects& effects) {
    detach(vm, effects);
    if (state == VmState::deleted && !vm.node_id.empty()) {
        // Gone from its host: whatever was still asked of the agent about it is moot.
        drop_commands(node_state(vm.node_id), vm.host_vm_id, CommandType::delete_vm);
    }
    if (vm.state == VmState::pending && std::erase(queue_, vm.vm_id) > 0) {
        effects.queue_changes.emplace_back(vm.vm_id, Effects::QueueChange::left);
    }
    transition(vm, state, std::move(message), effects);
}

void VmLifecycle::start_deletion(VmRecord& vm, Effects& effects) {
    switch (vm.state) {
    case VmState::pending:
        return finish(vm, VmState::deleted, "deleted before it was placed", effects);
    case VmState::assigned: {
        NodeState& node = node_state(vm.node_id);
        const bool unseen = std::any_of(node.commands.begin(), node.commands.end(), [&vm](const Command& c) {
            return c.type == CommandType::create_vm && c.vm_id == vm.vm_id && !c.delivered_at;
        });
        if (unseen) return finish(vm, VmState::deleted, "deleted before the node was told to create it", effects);
        break;
    }
    case VmState::provisioning:
    case VmState::running:
    case VmState::lost:
    case VmState::unmanaged:
        break;
    case VmState::deleting:
    case VmState::deleted:
    case VmState::failed:
        return; // already on its way, or done
    }
    drop_commands(node_state(vm.node_id), vm.vm_id, CommandType::create_vm);
    vm.deleting_since = clock_.now();
    vm.delete_acked = false;
    transition(vm, VmState::deleting, "deletion requested", effects);
    send_cleanup(vm.node_id, vm.host_vm_id, effects);
}

// ---------------------------------------------------------------------------------------------
// Commands

void VmLifecycle::send_command(const std::string& node_id, Command command, Effects& effects) {
    NodeState& node = node_state(node_id);
    node.commands.push_back(std::move(command));
    answer_waiters(node, effects);
}

void VmLifecycle::send_cleanup(const std::string& node_id, const std::string& vm_id, Effects& effects) {
    NodeState& node = node_state(node_id);
    const bool queued = std::any_of(node.commands.begin(), node.commands.end(), [&vm_id](const Command& c) {
        return c.type == CommandType::delete_vm && c.vm_id == vm_id;
    });
    if (queued) return;
    Command command;
    command.id = ids_.next("cmd");
    command.type = CommandType::delete_vm;
    command.vm_id = vm_id;
    command.created_at = clock_.now();
    send_command(node_id, std::move(command), effects);
}

void VmLifecycle::drop_commands(NodeState& node, const std::string& vm_id, CommandType type) {
    std::erase_if(node.commands, [&](const Command& c) { return c.type == type && c.vm_id == vm_id; });
}

std::vector<Command> VmLifecycle::deliver(NodeState& node) {
    const TimePoint now = clock_.now();
    for (auto& command : node.commands) {
        if (!command.delivered_at) command.delivered_at = now;
    }
    return node.commands;
}

void VmLifecycle::answer_waiters(NodeState& node, Effects& effects) {
    if (node.waiters.empty() || node.commands.empty()) return;
    auto commands = deliver(node);
    for (auto& waiter : node.waiters) {
        effects.replies.push_back([reply = std::move(waiter.reply), commands] { reply(commands); });
    }
    node.waiters.clear();
}

// ---------------------------------------------------------------------------------------------
// Clients

RequestResult VmLifecycle::request_vm(const std::string& vm_id, VmSpec spec, bool wait) {
    Effects effects;
    RequestResult result{RequestOutcome::no_capacity, std::nullopt};
    {
        std::lock_guard lock{mutex_};
        if (!vm_id.empty()) {
            if (const VmRecord* existing = find_record(vm_id)) {
                const bool same = existing->spec.image_name == spec.image_name;
                return {same ? RequestOutcome::existing : RequestOutcome::conflict, *existing};
            }
        }
        std::string id = vm_id;
        while (id.empty() || vms_.contains(id)) id = ids_.next("vm");

        VmRecord fresh;
        fresh.vm_id = id;
        fresh.host_vm_id = id;
        fresh.spec = std::move(spec);
        fresh.created_at = fresh.updated_at = clock_.now();
        fresh.transitions.push_back({VmState::pending, fresh.created_at, {}, "requested"});
        VmRecord& vm = vms_.emplace(id, std::move(fresh)).first->second;

        double decision_seconds = 0;
        if (place(vm, effects, &decision_seconds)) {
            result = {RequestOutcome::placed, vm};
        } else if (wait && queue_.size() >= options_.max_queue_length) {
            result = {RequestOutcome::queue_full, std::nullopt};
            effects.log(spdlog::level::warn, "VM request for image {} refused: the queue holds {} requests, its limit",
                        vm.spec.image_name, queue_.size());
            vms_.erase(id);
        } else if (wait) {
            queue_.push_back(id);
            effects.queue_changes.emplace_back(id, Effects::QueueChange::joined_back);
            effects.touch(id);
            for (auto* observer : observers_) observer->queued();
            effects.log(spdlog::level::info, "VM {} of image {} queued: no node fits yet ({} waiting)", id,
                        vm.spec.image_name, queue_.size());
            result = {RequestOutcome::queued, vm};
        } else {
            for (auto* observer : observers_) observer->refused(decision_seconds);
            vms_.erase(id);
        }
        notify(effects);
    }
    effects.run();
    return result;
}

std::optional<VmRecord> VmLifecycle::delete_vm(std::string_view vm_id) {
    Effects effects;
    std::optional<VmRecord> result;
    {
        std::lock_guard lock{mutex_};
        VmRecord* vm = find_record(vm_id);
        if (vm == nullptr) return std::nullopt;
        start_deletion(*vm, effects);
        drain_queue(effects);
        result = *vm;
        notify(effects);
    }
    effects.run();
    return result;
}

std::optional<VmRecord> VmLifecycle::find(std::string_view vm_id) const {
    std::lock_guard lock{mutex_};
    const auto it = vms_.find(std::string(vm_id));
    if (it == vms_.end()) return std::nullopt;
    return it->second;
}

std::vector<VmRecord> VmLifecycle::list(const VmFilter& filter) const {
    std::vector<VmRecord> matching;
    {
        std::lock_guard lock{mutex_};
        for (const auto& [id, vm] : vms_) {
            if (filter.state && vm.state != *filter.state) continue;
            if (!filter.node_id.empty() && vm.node_id != filter.node_id) continue;
            if (!filter.image_name.empty() && vm.spec.image_name != filter.image_name) continue;
            matching.push_back(vm);
        }
    }
    std::sort(matching.begin(), matching.end(), [](const VmRecord& a, const VmRecord& b) {
        return a.created_at != b.created_at ? a.created_at < b.created_at : a.vm_id < b.vm_id;
    });
    return matching;
}

std::vector<VmRecord> VmLifecycle::queue() const {
    std::vector<VmRecord> waiting;
    std::lock_guard lock{mutex_};
    for (const auto& vm_id : queue_) {
        const auto it = vms_.find(vm_id);
        if (it != vms_.end() && it->second.state == VmState::pending) waiting.push_back(it->second);
    }
    return waiting;
}

LifecycleCounts VmLifecycle::counts() const {
    LifecycleCounts counts;
    std::lock_guard lock{mutex_};
    for (const auto& [id, vm] : vms_) ++counts.by_state[static_cast<std::size_t>(vm.state)];
    counts.queued = queue_.size();
    return counts;
}

// ---------------------------------------------------------------------------------------------
// Nodes

void VmLifecycle::reconcile(const std::string& node_id, NodeState& node, const fleet::NodeRecord& record,
                            Effects& effects) {
    const auto& reported = record.report.vms;
    node.reported_vm_ids.clear();
    for (const auto& vm : reported) node.reported_vm_ids.push_back(vm.vm_id);
    const std::string& instance = record.report.agent_instance;
    const bool restarted = !instance.empty() && !node.agent_instance.empty() && instance != node.agent_instance;
    if (!instance.empty()) node.agent_instance = instance;

    for (const auto& report : reported) {
        VmRecord* vm = find_on_node(node, node_id, report.vm_id);
        if (vm == nullptr && !node.speaks_protocol) {
            // An agent that names VMs itself: a new VM of the image placed here is that placement.
            for (const auto& candidate_id : node.vm_ids) {
                VmRecord* candidate = find_record(candidate_id);
                if (candidate != nullptr && is_starting(candidate->state) && !candidate->seen_on_host &&
                    candidate->spec.image_name == report.image_name &&
                    !contains(node.reported_vm_ids, candidate->vm_id)) {
                    candidate->host_vm_id = report.vm_id;
                    vm = candidate;
                    break;
                }
            }
        }
        if (vm != nullptr) {
            if (vm->host_vm_id == vm->vm_id && vm->managed) node.speaks_protocol = true;
            if (!vm->seen_on_host) effects.touch(vm->vm_id);
            vm->seen_on_host = true;
            if (vm->reserved) {
                // From now on the heartbeat's own count holds the slot.
                scheduler_.release(node_id, vm->vm_id);
                vm->reserved = false;
            }
            if (is_starting(vm->state)) {
                drop_commands(node, vm->vm_id, CommandType::create_vm);
                transition(*vm, VmState::running, "reported by the node", effects);
            } else if (vm->state == VmState::lost) {
                transition(*vm, VmState::running, "the node reports it again", effects);
            }
            continue;
        }

        const VmRecord* other = find_record(report.vm_id);
        if (other != nullptr && other->managed &&
            (contains(other->previous_nodes, node_id) || (other->node_id == node_id && is_final(other->state)))) {
            // A copy left behind by an attempt that was given up: ask the agent to remove it.
            send_cleanup(node_id, report.vm_id, effects);
            continue;
        }

        // A VM nobody asked for lives in a namespace of its own: "<node>:<its name>", a name no
        // client can ask for (vmIds have no ':'), so that a placement never resolves to a VM a
        // host made up; and one record per node and name, so that a VM reported on and off
        // reuses its record instead of piling up new ones.
        const std::string id = node_id + ":" + report.vm_id;
        if (const auto retained = vms_.find(id); retained != vms_.end()) {
            VmRecord& again = retained->second;
            again.spec.image_name = report.image_name;
            again.node_id = node_id;
            transition(again, VmState::unmanaged, "reported by the node again", effects);
            node.vm_ids.insert(id);
            continue;
        }
        if (node.unmanaged_records >= options_.max_unmanaged_per_node) {
            if (!node.unmanaged_refused) {
                effects.log(spdlog::level::warn,
                            "node {} reports more VMs macvmorx did not ask for than the {} it keeps records of; the "
                            "others count against its slots, unrecorded",
                            node_id, options_.max_unmanaged_per_node);
            }
            node.unmanaged_refused = true;
            for (auto* observer : observers_) observer->unmanaged_not_recorded();
            continue;
        }
        ++node.unmanaged_records;
        VmRecord unmanaged;
        unmanaged.vm_id = id;
        unmanaged.host_vm_id = report.vm_id;
        unmanaged.managed = false;
        unmanaged.spec.image_name = report.image_name;
        unmanaged.node_id = node_id;
        unmanaged.state = VmState::unmanaged;
        unmanaged.seen_on_host = true;
        unmanaged.created_at = unmanaged.updated_at = clock_.now();
        unmanaged.transitions.push_back(
            {VmState::unmanaged, unmanaged.created_at, node_id, "reported by the node; macvmorx did not ask for it"});
        effects.log(spdlog::level::info, "node {} runs VM {} that macvmorx did not ask for (unmanaged)", node_id,
                    report.vm_id);
        vms_.emplace(id, std::move(unmanaged));
        node.vm_ids.insert(id);
        effects.touch(id);
    }

    const std::vector<std::string> known(node.vm_ids.begin(), node.vm_ids.end());
    for (const auto& vm_id : known) {
        VmRecord* vm = find_record(vm_id);
        if (vm == nullptr || contains(node.reported_vm_ids, vm->host_vm_id)) continue;
        switch (vm->state) {
        case VmState::running:
            // Reported before and gone now: it ended on its own (a runner finished its job).
            if (vm->seen_on_host) finish(*vm, VmState::deleted, "the node no longer reports it", effects);
            break;
        case VmState::unmanaged:
            finish(*vm, VmState::deleted, "the node no longer reports it", effects);
            break;
        case VmState::lost:
            finish(*vm, VmState::deleted, "gone while the node was offline", effects);
            break;
        case VmState::deleting:
            if (vm->seen_on_host || vm->delete_acked) finish(*vm, VmState::deleted, "deleted by the node", effects);
            break;
        default:
            break; // still being made
        }
    }
    if (restarted) agent_restarted(node_id, node, effects);
}

void VmLifecycle::agent_restarted(const std::string& node_id, NodeState& node, Effects& effects) {
    // Every heartbeat, not once, would mean two agents reporting as one node.
    effects.log(spdlog::level::info, "the agent on node {} restarted (a new agentInstance)", node_id);
    const std::vector<std::string> known(node.vm_ids.begin(), node.vm_ids.end());
    for (const auto& vm_id : known) {
        VmRecord* vm = find_record(vm_id);
        if (vm == nullptr || !vm->managed) continue;
        const bool listed = contains(node.reported_vm_ids, vm->host_vm_id);
        const bool taken = vm->state == VmState::provisioning || (vm->state == VmState::running && !vm->seen_on_host);
        if (taken && !listed) {
            // The old agent took the createVm and the new one knows nothing of it: waiting for the
            // start deadline would only hold the slot. (An assigned VM's command is still pending:
            // the new agent gets it.)
            fail(*vm, "the agent on node " + node_id + " restarted while making it", effects, "agent_restarted");
        } else if (vm->state == VmState::deleting && vm->delete_acked && listed) {
            // The old agent took the deleteVm and did not finish: ask the new one.
            vm->delete_acked = false;
            send_cleanup(node_id, vm->host_vm_id, effects);
        }
    }
}

void VmLifecycle::node_went_offline(const std::string& node_id, NodeState& node, Effects& effects) {
    const std::vector<std::string> known(node.vm_ids.begin(), node.vm_ids.end());
    for (const auto& vm_id : known) {
        VmRecord* vm = find_record(vm_id);
        if (vm == nullptr) continue;
        if (is_starting(vm->state) && !vm->seen_on_host) {
            detach(*vm, effects);
            if (!contains(vm->previous_nodes, node_id)) vm->previous_nodes.push_back(node_id);
            vm->node_id.clear();
            // Not the VM's fault: this placement does not count against its attempts.
            --vm->attempts;
            place_or_queue_first(*vm, effects);
        } else if (vm->state == VmState::running) {
            transition(*vm, VmState::lost, "its node went offline", effects);
            for (auto* observer : observers_) observer->lost();
        }
    }
}

bool VmLifecycle::quiet(const fleet::NodeRecord& record) const {
    if (!queue_.empty()) return false;
    const auto& reported = record.report.vms;
    const auto it = nodes_.find(record.node_id());
    const std::string& instance = record.report.agent_instance;
    // A node's first agent instance is remembered, so that its restart is noticed.
    if (it == nodes_.end()) return reported.empty() && instance.empty();
    const NodeState& node = it->second;
    if (!node.online || !node.commands.empty() || !node.waiters.empty()) return false;
    if (!instance.empty() && instance != node.agent_instance) return false;
    if (node.reported_vm_ids.size() != reported.size()) return false;
    for (std::size_t i = 0; i < reported.size(); ++i) {
        if (node.reported_vm_ids[i] != reported[i].vm_id) return false;
    }
    return true;
}

std::vector<Command> VmLifecycle::on_heartbeat(const fleet::NodeRecord& record) {
    {
        // Most heartbeats: nothing to reconcile, no commands. Heartbeats of different nodes then
        // share the lock, and only the scheduler's view (it has its own lock) is updated.
        std::shared_lock lock{mutex_};
        if (quiet(record)) {
            if (const auto it = nodes_.find(record.node_id()); it != nodes_.end()) {
                auto& revision = it->second.revision;
                std::uint64_t seen = revision.load();
                while (seen < record.revision && !revision.compare_exchange_weak(seen, record.revision)) {
                }
            }
            scheduler_.observe(record);
            return {};
        }
    }
    Effects effects;
    std::vector<Command> commands;
    {
        std::lock_guard lock{mutex_};
        const std::string& node_id = record.node_id();
        NodeState& node = node_state(node_id);
        if (record.revision > node.revision) {
            node.revision = record.revision;
            node.online = record.online;
            reconcile(node_id, node, record, effects);
            scheduler_.observe(record);
            if (!queue_.empty()) drain_queue(effects);
        }
        commands = deliver(node);
        notify(effects);
    }
    effects.run();
    return commands;
}

void VmLifecycle::on_node_changed(const fleet::NodeRecord& record) {
    Effects effects;
    {
        std::lock_guard lock{mutex_};
        const std::string& node_id = record.node_id();
        NodeState& node = node_state(node_id);
        if (record.revision <= node.revision) return;
        node.revision = record.revision;
        const bool went_offline = node.online && !record.online;
        node.online = record.online;
        scheduler_.observe(record);
        if (went_offline) node_went_offline(node_id, node, effects);
        if (!queue_.empty()) drain_queue(effects);
        notify(effects);
    }
    effects.run();
}

void VmLifecycle::on_node_forgotten(std::string_view node_id_view) {
    Effects effects;
    {
        std::lock_guard lock{mutex_};
        const std::string node_id{node_id_view};
        const auto it = nodes_.find(node_id);
        if (it == nodes_.end()) return;
        const std::vector<std::string> known(it->second.vm_ids.begin(), it->second.vm_ids.end());
        for (const auto& vm_id : known) {
            VmRecord* vm = find_record(vm_id);
            if (vm == nullptr) continue;
            if (is_starting(vm->state) && !vm->seen_on_host) {
                detach(*vm, effects);
                if (!contains(vm->previous_nodes, node_id)) vm->previous_nodes.push_back(node_id);
                vm->node_id.clear();
                --vm->attempts;
                place_or_queue_first(*vm, effects);
            } else {
                finish(*vm, VmState::deleted, "its node was forgotten", effects);
            }
        }
        for (auto& waiter : nodes_[node_id].waiters) {
            effects.replies.push_back([reply = std::move(waiter.reply)] { reply({}); });
        }
        nodes_.erase(node_id);
        nodes_with_waiters_.erase(node_id);
        scheduler_.forget(node_id);
        drain_queue(effects);
        notify(effects);
    }
    effects.run();
}

// ---------------------------------------------------------------------------------------------
// Agents

EventOutcome VmLifecycle::record_event(std::string_view vm_id, const VmEvent& event,
                                       const std::function<bool(std::string_view node_id)>& may_report) {
    Effects effects;
    EventOutcome outcome = EventOutcome::applied;
    {
        std::lock_guard lock{mutex_};
        VmRecord* vm = find_record(vm_id);
        if (vm == nullptr) return EventOutcome::unknown_vm;
        if (may_report && !may_report(vm->node_id)) return EventOutcome::not_the_callers;
        if (!vm->node_id.empty()) node_state(vm->node_id).speaks_protocol = true;
        const VmState current = vm->state;
        switch (event.state) {
        case VmState::provisioning:
            if (current == VmState::assigned) {
                drop_commands(node_state(vm->node_id), vm->vm_id, CommandType::create_vm);
                transition(*vm, VmState::provisioning, event.message, effects);
            } else if (current != VmState::provisioning) {
                outcome = EventOutcome::not_allowed;
            }
            break;
        case VmState::running:
            if (is_starting(current) || current == VmState::lost) {
                // The slot stays reserved until the heartbeat lists the VM and counts it.
                drop_commands(node_state(vm->node_id), vm->vm_id, CommandType::create_vm);
                transition(*vm, VmState::running, event.message, effects);
            } else if (current != VmState::running) {
                outcome = EventOutcome::not_allowed;
            }
            break;
        case VmState::failed:
            if (is_starting(current) || current == VmState::running || current == VmState::lost) {
                fail(*vm, event.message.empty() ? "the agent reported a failure" : event.message, effects,
                     "agent_reported");
                drain_queue(effects);
            } else if (current != VmState::failed) {
                outcome = EventOutcome::not_allowed;
            }
            break;
        case VmState::deleted:
            if (current == VmState::deleting) {
                finish(*vm, VmState::deleted, event.message.empty() ? "deleted by the agent" : event.message, effects);
                drain_queue(effects);
            } else if (current != VmState::deleted) {
                outcome = EventOutcome::not_allowed;
            }
            break;
        default:
            outcome = EventOutcome::not_allowed;
        }
        if (outcome == EventOutcome::applied) {
            if (!event.message.empty()) vm->message = event.message;
            if (event.progress) vm->progress = event.progress;
            vm->updated_at = clock_.now();
            effects.touch(vm->vm_id);
        }
        notify(effects);
    }
    effects.run();
    return outcome;
}

bool VmLifecycle::acknowledge(std::string_view node_id_view, std::string_view command_id) {
    Effects effects;
    {
        std::lock_guard lock{mutex_};
        const std::string node_id{node_id_view};
        const auto node_it = nodes_.find(node_id);
        if (node_it == nodes_.end()) return false;
        NodeState& node = node_it->second;
        const auto it = std::find_if(node.commands.begin(), node.commands.end(),
                                     [command_id](const Command& c) { return c.id == command_id; });
        if (it == node.commands.end()) return false;
        const Command command = std::move(*it);
        node.commands.erase(it);
        node.speaks_protocol = true;

        VmRecord* vm = find_record(command.vm_id);
        if (vm != nullptr && vm->node_id == node_id) {
            if (command.type == CommandType::create_vm && vm->state == VmState::assigned) {
                transition(*vm, VmState::provisioning, "the agent took the createVm command", effects);
            } else if (command.type == CommandType::delete_vm && vm->state == VmState::deleting) {
                vm->delete_acked = true;
                effects.touch(vm->vm_id);
                if (!contains(node.reported_vm_ids, vm->host_vm_id)) {
                    finish(*vm, VmState::deleted, "deleted by the agent", effects);
                    drain_queue(effects);
                }
            }
        }
        notify(effects);
    }
    effects.run();
    return true;
}

void VmLifecycle::wait_for_commands(std::string_view node_id, TimePoint deadline, CommandsReply reply,
                                    std::function<bool()> abandoned) {
    std::vector<Command> commands;
    std::vector<CommandsReply> answered_now; // gone clients, and the oldest wait past the bound
    {
        std::lock_guard lock{mutex_};
        NodeState& node = node_state(std::string(node_id));
        node.speaks_protocol = true;
        if (node.commands.empty() && !releasing_waiters_ && deadline > clock_.now()) {
            for (auto it = node.waiters.begin(); it != node.waiters.end();) {
                if (!it->gone()) {
                    ++it;
                    continue;
                }
                answered_now.push_back(std::move(it->reply));
                it = node.waiters.erase(it);
            }
            if (node.waiters.size() >= std::max<std::size_t>(options_.max_waiters_per_node, 1)) {
                answered_now.push_back(std::move(node.waiters.front().reply));
                node.waiters.erase(node.waiters.begin());
            }
            node.waiters.push_back({deadline, std::move(reply), std::move(abandoned)});
            nodes_with_waiters_.insert(std::string(node_id));
            clock_.expect_wake_up(deadline);
        } else {
            commands = deliver(node);
            answered_now.push_back(std::move(reply));
        }
    }
    // The new wait answered at once gets the commands; the waits it pushed out get none.
    for (std::size_t i = 0; i < answered_now.size(); ++i) {
        answered_now[i](i + 1 == answered_now.size() && !commands.empty() ? std::move(commands) : std::vector<Command>{});
    }
}

// ---------------------------------------------------------------------------------------------
// Periodic work

void VmLifecycle::sweep() {
    Effects effects;
    {
        std::lock_guard lock{mutex_};
        const TimePoint now = clock_.now();
        bool released = false;
        // Only the records whose deadline has come: a sweep costs what is due, not the fleet.
        while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
            const std::string vm_id = deadlines_.begin()->second;
            deadlines_.erase(deadlines_.begin());
            const auto it = vms_.find(vm_id);
            if (it == vms_.end()) continue;
            VmRecord& vm = it->second;
            vm.deadline.reset();
            effects.touch(vm_id); // its next deadline, if any, is set when the sweep ends
            switch (vm.state) {
            case VmState::pending:
                for (auto* observer : observers_) observer->failed("queue_timeout", false);
                finish(vm, VmState::failed, "no node could take it within " + format_duration(options_.queue_timeout),
                       effects);
                break;
            case VmState::assigned:
                if (now - vm.assigned_at >= options_.placement_ttl) {
                    fail(vm, "the node did not take the createVm command within " + format_duration(options_.placement_ttl),
                         effects, "placement_ttl");
                    released = true;
                    break;
                }
                [[fallthrough]];
            case VmState::provisioning:
            case VmState::running:
                // A VM an agent called running but no heartbeat listed yet is still starting.
                if (!vm.seen_on_host && now - vm.assigned_at >= options_.start_deadline) {
                    fail(vm, "not running within " + format_duration(options_.start_deadline) + " of its placement",
                         effects, "start_deadline");
                    released = true;
                }
                break;
            case VmState::deleting:
                if (node_state(vm.node_id).online) {
                    finish(vm, VmState::deleted, "the node never created it nor confirmed its deletion", effects);
                    released = true;
                }
                break;
            case VmState::deleted:
            case VmState::failed:
                if (!vm.managed) {
                    if (const auto node = nodes_.find(vm.node_id); node != nodes_.end() && node->second.unmanaged_records > 0) {
                        --node->second.unmanaged_records;
                    }
                }
                vms_.erase(it); // retention over: notify() reports it removed
                break;
            default:
                break;
            }
        }
        if (released || !queue_.empty()) drain_queue(effects);
        notify(effects);
    }
    effects.run();
}

void VmLifecycle::expire_waiters() {
    Effects effects;
    {
        std::lock_guard lock{mutex_};
        const TimePoint now = clock_.now();
        for (auto it = nodes_with_waiters_.begin(); it != nodes_with_waiters_.end();) {
            auto& waiters = nodes_[*it].waiters;
            for (auto waiter = waiters.begin(); waiter != waiters.end();) {
                if (waiter->deadline > now && !waiter->gone()) {
                    ++waiter;
                    continue;
                }
                effects.replies.push_back([reply = std::move(waiter->reply)] { reply({}); });
                waiter = waiters.erase(waiter);
            }
            it = waiters.empty() ? nodes_with_waiters_.erase(it) : std::next(it);
        }
        notify(effects);
    }
    effects.run();
}

void VmLifecycle::release_waiters() {
    Effects effects;
    {
        std::lock_guard lock{mutex_};
        releasing_waiters_ = true;
        for (const auto& node_id : nodes_with_waiters_) {
            NodeState& node = nodes_[node_id];
            auto commands = deliver(node);
            for (auto& waiter : node.waiters) {
                effects.replies.push_back([reply = std::move(waiter.reply), commands] { reply(commands); });
            }
            node.waiters.clear();
        }
        nodes_with_waiters_.clear();
        notify(effects);
    }
    effects.run();
}

} // namespace macvmorx::lifecycle
