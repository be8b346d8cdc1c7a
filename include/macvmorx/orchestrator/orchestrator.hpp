#pragma once

#include "macvmorx/base/clock.hpp"
#include "macvmorx/fleet/node_store.hpp"
#include "macvmorx/monitor/offline_monitor.hpp"
#include "macvmorx/scheduling/scheduler.hpp"

#include <optional>
#include <string>
#include <vector>

namespace macvmorx {
class IdSource;
}

namespace macvmorx::orchestrator {

struct OrchestratorOptions {
    Duration offline_timeout = std::chrono::seconds{30};
    scheduling::SchedulerOptions scheduling;
};

// What a heartbeat changed, for the caller's logging and answers.
struct HeartbeatOutcome {
    bool new_node = false;
    bool back_online = false;
};

// The fleet as the API sees it: applies heartbeats to the node store and the scheduler in
// step, answers placement requests, and runs the periodic sweep. It knows nothing of HTTP or
// JSON. All members are safe to call from any thread.
class Orchestrator {
public:
    Orchestrator(OrchestratorOptions options, const Clock& clock, IdSource& ids);

    HeartbeatOutcome record_heartbeat(fleet::Heartbeat heartbeat);

    std::vector<fleet::NodeSnapshot> nodes() const { return store_.list(); }
    fleet::NodeSnapshot node(std::string_view node_id) const { return store_.find(node_id); }

    // Places one VM of `image_name`, or nullopt when no node has a free slot.
    std::optional<scheduling::Placement> schedule_vm(const std::string& image_name);

    // The periodic work: marks silent nodes offline and releases expired reservations.
    void sweep();

    const scheduling::Scheduler& scheduler() const { return scheduler_; }
    const Clock& clock() const { return clock_; }

private:
    const Clock& clock_;
    IdSource& ids_;
    fleet::NodeStore store_;
    scheduling::Scheduler scheduler_;
    monitor::OfflineMonitor monitor_;
};

} // namespace macvmorx::orchestrator
