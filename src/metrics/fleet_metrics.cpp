#include "macvmorx/metrics/fleet_metrics.hpp"

#include "macvmorx/base/version.hpp"
#include "macvmorx/metrics/prometheus_writer.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"

#include <chrono>
#include <cstdint>

namespace macvmorx::metrics {
namespace {

constexpr double bytes_per_gb = 1024.0 * 1024.0 * 1024.0;

double seconds_since_epoch(TimePoint time) { return std::chrono::duration<double>(time.time_since_epoch()).count(); }

} // namespace

void write_build_info(PrometheusWriter& out, TimePoint started_at) {
    out.family("macvmorx_build_info", "The running build.", "gauge");
    out.sample("macvmorx_build_info", {{"version", version()}}, std::uint64_t{1});
    out.family("macvmorx_start_time_seconds", "When the daemon started, in seconds since the Unix epoch.", "gauge");
    out.sample("macvmorx_start_time_seconds", {}, seconds_since_epoch(started_at));
}

void write_fleet(PrometheusWriter& out, const orchestrator::FleetSummary& summary) {
    out.family("macvmorx_nodes", "Nodes by state (draining: drained by an operator or reporting draining, "
                                 "maintenance or degraded).",
               "gauge");
    out.sample("macvmorx_nodes", {{"state", "online"}}, std::uint64_t{summary.online});
    out.sample("macvmorx_nodes", {{"state", "offline"}}, std::uint64_t{summary.offline});
    out.sample("macvmorx_nodes", {{"state", "draining"}}, std::uint64_t{summary.drained});
    out.family("macvmorx_nodes_accepting_vms", "Online nodes that take new VMs.", "gauge");
    out.sample("macvmorx_nodes_accepting_vms", {}, std::uint64_t{summary.accepting_vms});
    out.family("macvmorx_vm_slots", "VM slots of the nodes that take new VMs: total, free, and reserved by "
                                    "placements not yet running.",
               "gauge");
    out.sample("macvmorx_vm_slots", {{"kind", "total"}}, std::uint64_t{summary.capacity.total_slots});
    out.sample("macvmorx_vm_slots", {{"kind", "free"}}, std::uint64_t{summary.capacity.free_slots});
    out.sample("macvmorx_vm_slots", {{"kind", "reserved"}}, std::uint64_t{summary.capacity.reserved_slots});
    out.family("macvmorx_vms", "VM records by state.", "gauge");
    for (std::size_t state = 0; state < summary.vms.by_state.size(); ++state) {
        out.sample("macvmorx_vms", {{"state", protocol::to_string(static_cast<protocol::VmState>(state))}},
                   std::uint64_t{summary.vms.by_state[state]});
    }
    out.family("macvmorx_placement_queue_length", "VM requests waiting for a node.", "gauge");
    out.sample("macvmorx_placement_queue_length", {}, std::uint64_t{summary.vms.queued});
}

void write_nodes(PrometheusWriter& out, const std::vector<fleet::NodeSnapshot>& nodes) {
    struct Gauge {
        const char* name;
        const char* help;
        double (*value)(const fleet::NodeRecord&);
    };
    static constexpr Gauge gauges[] = {
        {"macvmorx_node_online", "1 if the node is online.", [](const fleet::NodeRecord& n) { return n.online ? 1.0 : 0.0; }},
        {"macvmorx_node_cpu_usage_ratio", "CPU in use, 0 to 1, as the node reports it.",
         [](const fleet::NodeRecord& n) { return n.report.cpu_usage_percent / 100.0; }},
        {"macvmorx_node_memory_used_bytes", "Memory in use.",
         [](const fleet::NodeRecord& n) { return n.report.memory_usage_gb * bytes_per_gb; }},
        {"macvmorx_node_memory_total_bytes", "Memory installed.",
         [](const fleet::NodeRecord& n) { return n.report.total_memory_gb * bytes_per_gb; }},
        {"macvmorx_node_disk_used_bytes", "Disk in use on the VM volume.",
         [](const fleet::NodeRecord& n) { return n.report.disk_usage_gb * bytes_per_gb; }},
        {"macvmorx_node_disk_total_bytes", "Size of the VM volume.",
         [](const fleet::NodeRecord& n) { return n.report.total_disk_gb * bytes_per_gb; }},
        {"macvmorx_node_vms", "VMs the node reports.",
         [](const fleet::NodeRecord& n) { return static_cast<double>(n.report.running_vms()); }},
        {"macvmorx_node_last_seen_timestamp_seconds", "When the node's last heartbeat arrived.",
         [](const fleet::NodeRecord& n) { return seconds_since_epoch(n.last_seen); }},
    };
    for (const auto& gauge : gauges) {
        out.family(gauge.name, gauge.help, "gauge");
        for (const auto& node : nodes) out.sample(gauge.name, {{"node", node->node_id()}}, gauge.value(*node));
    }
}

} // namespace macvmorx::metrics
