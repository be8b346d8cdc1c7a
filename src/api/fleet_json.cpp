#include "macvmorx/api/fleet_json.hpp"

#include "macvmorx/json/json_writer.hpp"
#include "macvmorx/protocol/heartbeat_json.hpp"

#include <algorithm>

namespace macvmorx::api {

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

} // namespace macvmorx::api
