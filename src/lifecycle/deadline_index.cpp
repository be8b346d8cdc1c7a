#include "deadline_index.hpp"

#include <algorithm>

namespace macvmorx::lifecycle {

std::optional<TimePoint> deadline_of(const VmRecord& vm, const LifecycleOptions& options) {
    switch (vm.state) {
    case VmState::pending:
        return vm.created_at + options.queue_timeout;
    case VmState::assigned:
        if (vm.seen_on_host) return std::nullopt;
        return vm.assigned_at + std::min(options.placement_ttl, options.start_deadline);
    case VmState::provisioning:
    case VmState::running:
        if (vm.seen_on_host) return std::nullopt;
        return vm.assigned_at + options.start_deadline;
    case VmState::deleting:
        if (vm.seen_on_host || vm.delete_acked) return std::nullopt;
        return vm.deleting_since + options.placement_ttl;
    case VmState::deleted:
    case VmState::failed:
        return vm.updated_at + options.retention;
    case VmState::lost:
    case VmState::unmanaged:
        break;
    }
    return std::nullopt;
}

DeadlineIndex::DeadlineIndex(const LifecycleOptions& options) : options_{options} {}

void DeadlineIndex::update(VmRecord& vm) {
    const auto next = deadline_of(vm, options_);
    if (vm.deadline && next && *vm.deadline == *next) return;
    if (vm.deadline) deadlines_.erase({*vm.deadline, vm.vm_id});
    vm.deadline = next;
    if (next) deadlines_.insert({*next, vm.vm_id});
}

std::optional<std::string> DeadlineIndex::take_due(TimePoint now) {
    if (deadlines_.empty() || deadlines_.begin()->first > now) return std::nullopt;
    return std::move(deadlines_.extract(deadlines_.begin()).value().second);
}

} // namespace macvmorx::lifecycle
