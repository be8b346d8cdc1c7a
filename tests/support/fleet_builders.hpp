#pragma once

// Small builders for heartbeats and node records, so that tests say only what matters to them.

#include "macvmorx/fleet/node_record.hpp"

#include <string>
#include <vector>

namespace macvmorx::testing {

inline protocol::Heartbeat heartbeat(std::string node_id, std::vector<std::string> cached_images = {},
                                  double cpu = 10, int running_vms = 0) {
    protocol::Heartbeat report;
    report.node_id = std::move(node_id);
    report.cached_images = std::move(cached_images);
    report.cpu_usage_percent = cpu;
    report.status = "healthy";
    report.total_memory_gb = 16;
    report.total_disk_gb = 500;
    for (int i = 0; i < running_vms; ++i) {
        report.vms.push_back({report.node_id + "-vm-" + std::to_string(i), "busy-image", 60, "", ""});
    }
    report.vm_count = running_vms;
    return report;
}

inline fleet::NodeRecord record(protocol::Heartbeat report, bool online = true) {
    fleet::NodeRecord node;
    node.report = std::move(report);
    node.online = online;
    return node;
}

} // namespace macvmorx::testing
