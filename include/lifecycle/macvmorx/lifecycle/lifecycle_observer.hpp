#pragma once

#include "macvmorx/lifecycle/vm_record.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace macvmorx::lifecycle {

// Told of what the VM lifecycle does, for durable records and metrics. Every call is made
// under the lifecycle's lock, in the order of the changes: copy what you need and return; never
// call back into the lifecycle.
class LifecycleObserver {
public:
    virtual ~LifecycleObserver() = default;

    virtual void vm_changed(const VmRecord& /*vm*/) {}
    virtual void vm_removed(const std::string& /*vm_id*/) {}
    // The placement queue changed by one request: it joined at the front (a retry, placed before
    // newer requests) or the back, or it left (placed, deleted, timed out). One call per change,
    // never the whole queue: a queue of thousands costs nothing more per change than one of ten.
    virtual void queue_joined(const std::string& /*vm_id*/, bool /*at_front*/) {}
    virtual void queue_left(const std::string& /*vm_id*/) {}

    // A request was placed at once (or a queued/retried VM placed); how long the decision took.
    virtual void placed(const std::string& /*image_name*/, bool /*image_cached*/, double /*decision_seconds*/) {}
    // A request found no node and did not wait.
    virtual void refused(double /*decision_seconds*/) {}
    virtual void queued() {}
    // A VM reached running; seconds since its current placement, and since it was asked for
    // (its wait in the queue and earlier attempts included).
    virtual void started(double /*seconds_since_placement*/, double /*seconds_since_request*/) {}
    // A placement failed: `cause` is queue_timeout, placement_ttl, start_deadline,
    // agent_reported or agent_restarted; `placed_again` when the VM goes on to another attempt.
    virtual void failed(std::string_view /*cause*/, bool /*placed_again*/) {}
    // A running VM's host went offline.
    virtual void lost() {}
    // A node reported a VM nobody asked for beyond the records it may make the daemon keep.
    virtual void unmanaged_not_recorded() {}
};

} // namespace macvmorx::lifecycle
