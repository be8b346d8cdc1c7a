#include "macvmorx/protocol/heartbeat_json.hpp"

#include "heartbeat_fast_path.hpp"
#include "heartbeat_rules.hpp"

#include "macvmorx/base/invalid_input.hpp"
#include "macvmorx/json/json_writer.hpp"
#include "macvmorx/protocol/json_fields.hpp"

namespace macvmorx::protocol {
namespace {

constexpr StringRule node_id_rule = identifier_rule;
constexpr StringRule image_rule = image_name_rule;
constexpr StringRule reported_vm_id_rule = identifier_rule;

VmReport parse_vm(const nlohmann::json& item, std::size_t index) {
    const std::string path = "vms[" + std::to_string(index) + "]";
    if (!item.is_object()) throw MalformedInput(path + " must be an object", path);
    const FieldReader vm{item, path + "."};
    VmReport report;
    report.vm_id = vm.required_string("vmId", reported_vm_id_rule);
    report.image_name = vm.string("imageName", optional_image_rule);
    report.runtime_seconds = vm.integer("runtimeSeconds", 0, max_runtime_seconds, 0);
    report.vm_hostname = vm.string("vmHostname", hostname_rule);
    report.vm_ip_address = vm.string("vmIpAddress", address_rule);
    return report;
}

// What one host may make the daemon keep, whichever parser read its report.
Heartbeat within_budget(Heartbeat heartbeat) {
    if (const auto bytes = heartbeat.text_bytes(); bytes > max_heartbeat_text_bytes) {
        throw InvalidValue("the report holds " + std::to_string(bytes) + " bytes of text; a host may keep at most " +
                                      std::to_string(max_heartbeat_text_bytes) + " (names of VMs, images and labels)",
                                  "heartbeat");
    }
    return heartbeat;
}

} // namespace

void write_labels(JsonWriter& json, const Labels& labels) {
    json.begin_object();
    for (const auto& label : labels) json.field(label.key, label.value);
    json.end_object();
}

void write_report_members(JsonWriter& json, const Heartbeat& report) {
    json.field("nodeId", report.node_id).field("vmCount", report.running_vms()).key("vms").begin_array();
    for (const auto& vm : report.vms) {
        json.begin_object()
            .field("vmId", vm.vm_id)
            .field("imageName", vm.image_name)
            .field("runtimeSeconds", vm.runtime_seconds)
            .field("vmHostname", vm.vm_hostname)
            .field("vmIpAddress", vm.vm_ip_address)
            .end_object();
    }
    json.end_array()
        .field("cpuUsagePercent", report.cpu_usage_percent)
        .field("memoryUsageGB", report.memory_usage_gb)
        .field("totalMemoryGB", report.total_memory_gb)
        .field("diskUsageGB", report.disk_usage_gb)
        .field("totalDiskGB", report.total_disk_gb)
        .field("status", report.status);
    if (!report.status_reason.empty()) json.field("statusReason", report.status_reason);
    json.key("cachedImages").begin_array();
    for (const auto& image : report.cached_images) json.value(image);
    json.end_array().key("pullingImages").begin_array();
    for (const auto& image : report.pulling_images) json.value(image);
    json.end_array();
}

void write_heartbeat(JsonWriter& json, const Heartbeat& heartbeat) {
    json.begin_object();
    write_report_members(json, heartbeat);
    json.key("labels");
    write_labels(json, heartbeat.labels);
    if (!heartbeat.agent_instance.empty()) json.field("agentInstance", heartbeat.agent_instance);
    if (!heartbeat.peer_url.empty()) json.field("peerUrl", heartbeat.peer_url);
    json.end_object();
}

void check_node_id(std::string_view node_id, const std::string& field) { check_string(node_id, node_id_rule, field); }

Heartbeat parse_heartbeat(std::string_view body) {
    if (auto heartbeat = parse_heartbeat_fast(body)) return within_budget(std::move(*heartbeat));
    return within_budget(parse_heartbeat_checked(body));
}

Heartbeat parse_heartbeat_checked(std::string_view body) {
    const nlohmann::json document = parse_json_object(body);
    const FieldReader fields{document};

    Heartbeat heartbeat;
    heartbeat.node_id = fields.required_string("nodeId", node_id_rule);
    if (const auto* vms = fields.array("vms", max_vms_per_heartbeat)) {
        heartbeat.vms.reserve(vms->size());
        for (std::size_t i = 0; i < vms->size(); ++i) heartbeat.vms.push_back(parse_vm((*vms)[i], i));
    }
    heartbeat.vm_count = static_cast<int>(fields.integer("vmCount", 0, max_vms_per_heartbeat,
                                                         static_cast<std::int64_t>(heartbeat.vms.size())));
    heartbeat.cpu_usage_percent = fields.number("cpuUsagePercent", 0, 100, 0);
    heartbeat.memory_usage_gb = fields.number("memoryUsageGB", 0, max_gigabytes, 0);
    heartbeat.total_memory_gb = fields.number("totalMemoryGB", 0, max_gigabytes, 0);
    heartbeat.disk_usage_gb = fields.number("diskUsageGB", 0, max_gigabytes, 0);
    heartbeat.total_disk_gb = fields.number("totalDiskGB", 0, max_gigabytes, 0);
    heartbeat.status = fields.string("status", status_rule, "unknown");
    if (heartbeat.status.empty()) heartbeat.status = "unknown";
    heartbeat.status_reason = fields.string("statusReason", status_reason_rule);
    heartbeat.cached_images = fields.string_array("cachedImages", max_cached_images, image_rule);
    heartbeat.pulling_images = fields.string_array("pullingImages", max_cached_images, image_rule);
    heartbeat.labels = fields.labels("labels");
    heartbeat.agent_instance = fields.string("agentInstance", agent_instance_rule);
    heartbeat.peer_url = fields.string("peerUrl", peer_url_rule);
    return heartbeat;
}

} // namespace macvmorx::protocol
