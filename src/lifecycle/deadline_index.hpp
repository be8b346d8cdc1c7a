#pragma once

#include "macvmorx/base/clock.hpp"
#include "macvmorx/lifecycle/vm_lifecycle.hpp"
#include "macvmorx/lifecycle/vm_record.hpp"

#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <utility>

namespace macvmorx::lifecycle {

// When a record next needs the sweep's attention, if ever: the queue timeout of a pending
// request, the placement TTL and start deadline of a VM being made, the wait for a deletion to
// be confirmed, the retention of a finished record.
std::optional<TimePoint> deadline_of(const VmRecord& vm, const LifecycleOptions& options);

// The records' deadlines in time order, so that a sweep costs what is due, not the fleet.
// A record's own `deadline` field says where the index holds it.
//
// Not locked: the lifecycle's mutex guards it.
class DeadlineIndex {
public:
    explicit DeadlineIndex(const LifecycleOptions& options);

    // Moves the record to the deadline its state calls for now (deadline_of), or out of the
    // index when it calls for none.
    void update(VmRecord& vm);
    // Takes out the earliest deadline that has come by `now` and gives its record's id; the
    // caller clears that record's `deadline`. nullopt when nothing is due.
    std::optional<std::string> take_due(TimePoint now);
    std::size_t size() const { return deadlines_.size(); }

private:
    const LifecycleOptions options_;
    std::set<std::pair<TimePoint, std::string>> deadlines_; // (when, VM id)
};

} // namespace macvmorx::lifecycle
