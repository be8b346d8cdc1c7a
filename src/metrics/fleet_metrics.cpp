#include "macvmorx/metrics/fleet_metrics.hpp"

#include "families.hpp"
#include "macvmorx/base/version.hpp"
#include "macvmorx/metrics/scrape.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"

#include <chrono>
#include <utility>

namespace macvmorx::metrics {
namespace {

using prometheus::MetricType;

constexpr double bytes_per_gb = 1024.0 * 1024.0 * 1024.0;

double seconds_since_epoch(TimePoint time) { return std::chrono::duration<double>(time.time_since_epoch()).count(); }

// A gauge family of one sample without labels.
void gauge(Scrape& scrape, const char* name, const char* help, double value) {
    auto one = family(name, help, MetricType::Gauge);
    sample(one, {}, value);
    scrape.add(std::move(one));
}

} // namespace

void collect_build_info(Scrape& scrape, TimePoint started_at) {
    auto build = family("macvmorx_build_info", "The running build.", MetricType::Gauge);
    sample(build, {{"version", version()}}, 1);
    scrape.add(std::move(build));
    gauge(scrape, "macvmorx_start_time_seconds", "When the daemon started, in seconds since the Unix epoch.",
          seconds_since_epoch(started_at));
}

void collect_fleet(Scrape& scrape, const orchestrator::FleetSummary& summary) {
    const auto number = [](std::size_t value) { return static_cast<double>(value); };
    auto nodes = family("macvmorx_nodes",
                        "Nodes by state (draining: drained by an operator or reporting draining, maintenance or degraded).",
                        MetricType::Gauge);
    sample(nodes, {{"state", "online"}}, number(summary.online));
    sample(nodes, {{"state", "offline"}}, number(summary.offline));
    sample(nodes, {{"state", "draining"}}, number(summary.drained));
    scrape.add(std::move(nodes));
    gauge(scrape, "macvmorx_nodes_accepting_vms", "Online nodes that take new VMs.", number(summary.accepting_vms));
    auto slots = family("macvmorx_vm_slots",
                        "VM slots of the nodes that take new VMs: total, free, and reserved by placements not yet running.",
                        MetricType::Gauge);
    sample(slots, {{"kind", "total"}}, number(summary.capacity.total_slots));
    sample(slots, {{"kind", "free"}}, number(summary.capacity.free_slots));
    sample(slots, {{"kind", "reserved"}}, number(summary.capacity.reserved_slots));
    scrape.add(std::move(slots));
    auto vms = family("macvmorx_vms", "VM records by state.", MetricType::Gauge);
    for (std::size_t state = 0; state < summary.vms.by_state.size(); ++state) {
        sample(vms, {{"state", protocol::to_string(static_cast<protocol::VmState>(state))}}, number(summary.vms.by_state[state]));
    }
    scrape.add(std::move(vms));
    gauge(scrape, "macvmorx_placement_queue_length", "VM requests waiting for a node.", number(summary.vms.queued));
}

void collect_nodes(Scrape& scrape, const std::vector<fleet::NodeSnapshot>& nodes) {
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
        auto one = family(gauge.name, gauge.help, MetricType::Gauge);
        one.metric.reserve(nodes.size());
        for (const auto& node : nodes) sample(one, {{"node", node->node_id()}}, gauge.value(*node));
        scrape.add(std::move(one));
    }
}

} // namespace macvmorx::metrics
