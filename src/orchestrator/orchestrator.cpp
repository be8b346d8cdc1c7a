#include "macvmorx/orchestrator/orchestrator.hpp"

#include "macvmorx/base/id_source.hpp"

#include <spdlog/spdlog.h>

namespace macvmorx::orchestrator {

Orchestrator::Orchestrator(OrchestratorOptions options, const Clock& clock, IdSource& ids)
    : clock_{clock},
      ids_{ids},
      scheduler_{options.scheduling},
      monitor_{store_, scheduler_, clock_, options.offline_timeout} {}

HeartbeatOutcome Orchestrator::record_heartbeat(fleet::Heartbeat heartbeat) {
    HeartbeatOutcome outcome;
    const TimePoint now = clock_.now();
    auto record = std::make_shared<fleet::NodeRecord>();
    record->report = std::move(heartbeat);
    record->last_seen = now;
    record->online = true;
    const std::string& node_id = record->node_id();

    store_.update(node_id, [&](fleet::NodeSnapshot& slot) {
        record->first_seen = slot ? slot->first_seen : now;
        outcome.new_node = !slot;
        outcome.back_online = slot && !slot->online;
        scheduler_.observe(*record, slot.get());
        slot = record;
    });

    if (outcome.new_node) {
        spdlog::info("node {} registered (status {}, {} VMs, {} cached images)", node_id, record->report.status,
                     record->report.running_vms(), record->report.cached_images.size());
    } else if (outcome.back_online) {
        spdlog::info("node {} is back online", node_id);
    }
    return outcome;
}

std::optional<scheduling::Placement> Orchestrator::schedule_vm(const std::string& image_name) {
    scheduling::PlacementRequest request{image_name, ids_.next("vm")};
    auto placement = scheduler_.place(request, clock_.now());
    // A refusal is logged once, by the router, with the 503 it becomes.
    if (placement) {
        spdlog::info("placed VM {} of image {} on node {} ({})", placement->vm_id, image_name, placement->node_id,
                     placement->image_cached ? "image cached" : "image will be downloaded");
    }
    return placement;
}

void Orchestrator::sweep() {
    monitor_.sweep();
    for (const auto& expired : scheduler_.expire_reservations(clock_.now())) {
        spdlog::warn("placement of VM {} on node {} expired: the node never reported it", expired.vm_id,
                     expired.node_id);
    }
}

} // namespace macvmorx::orchestrator
