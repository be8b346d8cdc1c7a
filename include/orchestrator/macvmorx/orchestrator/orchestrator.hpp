#pragma once

#include "macvmorx/base/clock.hpp"
#include "macvmorx/fleet/node_store.hpp"
#include "macvmorx/lifecycle/vm_lifecycle.hpp"
#include "macvmorx/orchestrator/fleet_history.hpp"
#include "macvmorx/orchestrator/image_distribution.hpp"
#include "macvmorx/monitor/offline_monitor.hpp"
#include "macvmorx/scheduling/scheduler.hpp"

#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
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
    lifecycle::LifecycleOptions lifecycle;
    ImageDistributionOptions images;
};

// What a heartbeat changed, and what the agent is to do next.
struct HeartbeatOutcome {
    bool new_node = false;
    bool back_online = false;
    std::vector<protocol::Command> commands;
};

enum class NodeOperation { done, unknown_node, node_online };

// Told when an operator changes a node's settings (for durable records).
class NodeSettingsObserver {
public:
    virtual ~NodeSettingsObserver() = default;
    virtual void node_settings_changed(const fleet::NodeSettings& settings) = 0;
    virtual void node_settings_removed(const std::string& node_id) = 0;
    // An operator pinned an image to `min_hosts` hosts (0: removed the pin).
    virtual void image_pinned(const std::string& /*image*/, int /*min_hosts*/) {}
};

// The whole fleet in a few numbers, for dashboards and metrics.
struct FleetSummary {
    std::size_t nodes = 0;
    std::size_t online = 0;
    std::size_t offline = 0;
    std::size_t drained = 0;       // drained by an operator, or reporting draining/maintenance/degraded
    std::size_t accepting_vms = 0; // online and taking new VMs
    scheduling::CapacitySummary capacity;
    lifecycle::LifecycleCounts vms;
};

// The fleet as the API sees it. It publishes node records to the node store and hands each
// to the VM lifecycle (which keeps the scheduler in step), answers placement requests, and
// runs the periodic work. It knows nothing of HTTP or JSON. Safe to call from any thread.
class Orchestrator {
public:
    Orchestrator(OrchestratorOptions options, const Clock& clock, IdSource& ids);

    // Set up before serving; observers are not owned.
    void add_lifecycle_observer(lifecycle::LifecycleObserver* observer) { lifecycle_.add_observer(observer); }
    void set_settings_observer(NodeSettingsObserver* observer) { settings_observer_ = observer; }

    // Brings back what an earlier run knew (durable records): VMs, the queue, node settings.
    void restore(std::vector<lifecycle::VmRecord> vms, const std::vector<std::string>& queue,
                 std::vector<fleet::NodeSettings> settings, const std::map<std::string, int>& image_pins = {});

    // Agents.
    HeartbeatOutcome record_heartbeat(protocol::Heartbeat heartbeat);
    lifecycle::EventOutcome record_vm_event(std::string_view vm_id, const protocol::VmEvent& event,
                                            const std::function<bool(std::string_view)>& may_report = {}) {
        return lifecycle_.record_event(vm_id, event, may_report);
    }
    bool acknowledge_command(std::string_view node_id, std::string_view command_id) {
        return lifecycle_.acknowledge(node_id, command_id);
    }
    // Replies with the node's commands as soon as there are any, or none after `wait`.
    // Returns false (and never replies) for a node that has not sent a heartbeat.
    // `abandoned()` says when the waiting client has gone (VmLifecycle::wait_for_commands).
    bool wait_for_commands(std::string_view node_id, Duration wait, lifecycle::CommandsReply reply,
                           std::function<bool()> abandoned = {});

    // Nodes.
    std::vector<fleet::NodeSnapshot> nodes() const { return store_.list(); }
    fleet::NodeSnapshot node(std::string_view node_id) const { return store_.find(node_id); }
    FleetSummary summary() const;
    // Drained nodes take no new VMs; theirs run to the end. nullptr for an unknown node.
    fleet::NodeSnapshot set_drained(std::string_view node_id, bool drained);
    // Labels an operator gives a node, on top of (and over) its agent's. nullptr for an unknown node.
    fleet::NodeSnapshot set_operator_labels(std::string_view node_id, protocol::Labels labels);
    // Forgets an offline node and what it ran.
    NodeOperation forget_node(std::string_view node_id);

    // VMs.
    lifecycle::RequestResult request_vm(const std::string& vm_id, lifecycle::VmSpec spec, bool wait) {
        return lifecycle_.request_vm(vm_id, std::move(spec), wait);
    }
    std::optional<lifecycle::VmRecord> delete_vm(std::string_view vm_id) { return lifecycle_.delete_vm(vm_id); }
    std::optional<lifecycle::VmRecord> vm(std::string_view vm_id) const { return lifecycle_.find(vm_id); }
    std::vector<lifecycle::VmRecord> vms(const lifecycle::VmFilter& filter) const { return lifecycle_.list(filter); }
    std::vector<lifecycle::VmRecord> queue() const { return lifecycle_.queue(); }
    std::vector<lifecycle::QueuedVm> queue_view() const { return lifecycle_.queue_view(); }
    std::optional<lifecycle::PendingReason> pending_reason(std::string_view vm_id) const {
        return lifecycle_.pending_reason(vm_id);
    }
    lifecycle::PendingReason explain(const lifecycle::VmSpec& spec) const { return lifecycle_.explain(spec); }

    // Images ahead of demand (ImageDistribution).
    std::vector<ImageStatus> images() const { return images_.status(clock_.now()); }
    const ImageDistribution& image_distribution() const { return images_; }
    // The last hours of the fleet, a sample per sweep every 30 s (GET /api/fleet/history).
    const FleetHistory& history() const { return history_; }
    // Whether a host holds or pulls the image, a VM or a pool asked for it, or it is pinned.
    bool image_known(std::string_view image) const;
    void pin_image(const std::string& image, int min_hosts);
    // What runner pools ask of each image (warm VMs, queued jobs, rollouts), replaced as a whole.
    void set_pool_load(std::map<std::string, ImageLoad, std::less<>> load);
    lifecycle::LifecycleCounts vm_counts() const { return lifecycle_.counts(); }

    // The periodic work: marks silent nodes offline, enforces VM deadlines and retries.
    void sweep();
    // Frequent, cheap: answers long polls whose wait is over.
    void expire_long_polls() { lifecycle_.expire_waiters(); }
    // Shutdown: answers every long poll now.
    void release_long_polls() { lifecycle_.release_waiters(); }

    const scheduling::Scheduler& scheduler() const { return scheduler_; }
    const Clock& clock() const { return clock_; }

private:
    // Publishes a changed copy of a known node's record; returns it, or nullptr if unknown.
    fleet::NodeSnapshot republish(std::string_view node_id, const std::function<void(fleet::NodeRecord&)>& change);

    void settings_changed(const fleet::NodeRecord& node);
    // Posts the pulls the image distribution asks for, withdraws those it gave up.
    void distribute_images();

    // Tells the image distribution of each placement, and the history of each start (under the
    // lifecycle's lock).
    class PlacementTap final : public lifecycle::LifecycleObserver {
    public:
        PlacementTap(ImageDistribution& images, FleetHistory& history, const Clock& clock)
            : images_{images}, history_{history}, clock_{clock} {}
        void placed(const std::string& image_name, bool image_cached, double) override {
            images_.placed(image_name, image_cached, clock_.now());
        }
        void started(double, double seconds_since_request) override { history_.vm_started(seconds_since_request); }

    private:
        ImageDistribution& images_;
        FleetHistory& history_;
        const Clock& clock_;
    };

    // Takes the history's sample when one is due.
    void sample_history();

    const Clock& clock_;
    NodeSettingsObserver* settings_observer_ = nullptr;
    // Settings of nodes not heard from since the restart; applied at their first heartbeat.
    std::mutex restored_settings_mutex_;
    std::unordered_map<std::string, fleet::NodeSettings> restored_settings_;
    fleet::NodeStore store_;
    scheduling::Scheduler scheduler_;
    lifecycle::VmLifecycle lifecycle_;
    monitor::OfflineMonitor monitor_;
    ImageDistribution images_;
    FleetHistory history_;
    PlacementTap placement_tap_;
    std::mutex pool_load_mutex_;
    std::map<std::string, ImageLoad, std::less<>> pool_load_;
};

} // namespace macvmorx::orchestrator
