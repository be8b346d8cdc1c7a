#include "macvmorx/monitor/offline_monitor.hpp"

#include "macvmorx/base/duration.hpp"
#include "macvmorx/fleet/node_store.hpp"

#include <spdlog/spdlog.h>

namespace macvmorx::monitor {

OfflineMonitor::OfflineMonitor(fleet::NodeStore& store, const Clock& clock, Duration offline_timeout)
    : store_{store}, clock_{clock}, offline_timeout_{offline_timeout} {}

std::vector<fleet::NodeSnapshot> OfflineMonitor::sweep() {
    const TimePoint now = clock_.now();
    const auto stale = [this, now](const fleet::NodeRecord& record) {
        return record.online && now - record.last_seen > offline_timeout_;
    };

    // Find candidates under shared locks first: most sweeps find nothing to change.
    std::vector<std::string> candidates;
    store_.for_each([&](const fleet::NodeSnapshot& record) {
        if (stale(*record)) candidates.push_back(record->node_id());
    });

    std::vector<fleet::NodeSnapshot> went_offline;
    for (const auto& node_id : candidates) {
        store_.update(node_id, [&](fleet::NodeSnapshot& slot) {
            if (!slot || !stale(*slot)) return;
            auto offline = std::make_shared<fleet::NodeRecord>(*slot);
            offline->online = false;
            ++offline->revision;
            slot = offline;
            went_offline.push_back(std::move(offline));
        });
    }
    for (const auto& record : went_offline) {
        spdlog::warn("node {} is offline: no heartbeat for {} (offline timeout {})", record->node_id(),
                     format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(now - record->last_seen)),
                     format_duration(offline_timeout_));
    }
    return went_offline;
}

} // namespace macvmorx::monitor
