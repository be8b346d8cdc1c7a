#include "macvmorx/api/fleet_json.hpp"

#include "macvmorx/json/json_writer.hpp"
#include "macvmorx/protocol/heartbeat_json.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

namespace macvmorx::api {
namespace {

// boost::hash_combine's mixing: enough to tell a changed node from an unchanged one.
class Digest {
public:
    Digest& add(std::uint64_t value) {
        value_ ^= value + 0x9e3779b97f4a7c15ULL + (value_ << 12) + (value_ >> 4);
        return *this;
    }
    Digest& add(std::string_view text) { return add(std::hash<std::string_view>{}(text)); }
    // The value as the dashboard rounds it, `steps` to the unit.
    Digest& add(double value, double steps) { return add(static_cast<std::uint64_t>(std::llround(value * steps))); }
    Digest& add(const protocol::Labels& labels) {
        add(std::uint64_t{labels.size()});
        for (const auto& label : labels) add(label.key).add(label.value);
        return *this;
    }
    Digest& add(const std::vector<std::string>& texts) {
        add(std::uint64_t{texts.size()});
        for (const auto& text : texts) add(text);
        return *this;
    }
    std::uint64_t value() const { return value_; }

private:
    std::uint64_t value_ = 0;
};

} // namespace

void write_node(JsonWriter& json, const fleet::NodeRecord& node, const NodeCapacity& capacity) {
    const auto& report = node.report;
    json.begin_object();
    protocol::write_report_members(json, report);
    json.key("labels");
    // The merged copy only when an operator set labels: most nodes have none.
    if (node.operator_labels.empty()) {
        protocol::write_labels(json, report.labels);
    } else {
        protocol::write_labels(json, node.labels());
    }
    json.key("operatorLabels");
    protocol::write_labels(json, node.operator_labels);
    const int used = report.running_vms() + capacity.reserved_slots;
    json.field("lastSeen", node.last_seen)
        .field("firstSeen", node.first_seen)
        .field("isOnline", node.online)
        .field("drained", node.drained)
        .field("acceptsVms", fleet::accepts_new_vms(node))
        .field("maxVms", capacity.max_vms)
        .field("reservedSlots", capacity.reserved_slots)
        .field("freeSlots", fleet::accepts_new_vms(node) ? std::max(0, capacity.max_vms - used) : 0)
        .field("agentInstance", report.agent_instance);
    if (!report.peer_url.empty()) json.field("peerUrl", report.peer_url);
    json.end_object();
}

std::uint64_t node_digest(const fleet::NodeRecord& node, const NodeCapacity& capacity) {
    const auto& report = node.report;
    Digest digest;
    digest.add(report.node_id).add(std::uint64_t(report.vm_count)).add(std::uint64_t{report.vms.size()});
    for (const auto& vm : report.vms) digest.add(vm.vm_id).add(vm.image_name).add(vm.vm_hostname).add(vm.vm_ip_address);
    digest.add(report.cpu_usage_percent, 1)
        .add(report.memory_usage_gb, 10)
        .add(report.total_memory_gb, 10)
        .add(report.disk_usage_gb, 10)
        .add(report.total_disk_gb, 10)
        .add(report.status)
        .add(report.status_reason)
        .add(report.cached_images)
        .add(report.pulling_images)
        .add(report.labels)
        .add(report.agent_instance)
        .add(report.peer_url)
        .add(node.operator_labels)
        .add(static_cast<std::uint64_t>(node.first_seen.time_since_epoch().count()))
        .add(std::uint64_t{node.online} | std::uint64_t{node.drained} << 1)
        .add(std::uint64_t(capacity.max_vms))
        .add(std::uint64_t(capacity.reserved_slots));
    return digest.value();
}

} // namespace macvmorx::api
