#include "macvmorx/api/vm_json.hpp"

#include "macvmorx/base/invalid_input.hpp"
#include "macvmorx/json/json_writer.hpp"
#include "macvmorx/protocol/heartbeat_json.hpp"
#include "macvmorx/protocol/image_source.hpp"
#include "macvmorx/protocol/json_fields.hpp"

namespace macvmorx::api {

using protocol::FieldReader;

VmRequest parse_vm_request(std::string_view body) {
    const nlohmann::json document = protocol::parse_json_object(body);
    const FieldReader fields{document};
    VmRequest request;
    request.spec.image_name = fields.required_string("imageName", protocol::image_name_rule);
    protocol::image_source(request.spec.image_name, "imageName"); // a bucket object's URL must be well formed
    request.vm_id = fields.string("vmId", protocol::vm_id_rule);
    request.spec.labels = fields.labels("labels");
    if (const auto cpu = fields.optional_integer("cpu", 1, 64)) request.spec.cpu = static_cast<int>(*cpu);
    request.spec.memory_gb = fields.optional_number("memoryGB", 0.001, 1024);
    if (const auto* metadata = fields.object("metadata")) {
        request.spec.metadata_json = metadata->dump();
        if (request.spec.metadata_json.size() > max_metadata_bytes) {
            throw InvalidValue("metadata may take at most " + std::to_string(max_metadata_bytes) +
                                          " bytes as JSON",
                                      "metadata");
        }
    }
    request.wait = fields.optional_boolean("wait").value_or(false);
    if (const auto priority = fields.optional_integer("priority", -max_priority, max_priority)) {
        request.spec.priority = static_cast<int>(*priority);
    }
    request.spec.tenant = fields.string("tenant", {0, 128});
    return request;
}

protocol::VmState parse_state_filter(std::string_view text) {
    const auto state = protocol::parse_vm_state(text);
    if (!state) {
        throw InvalidValue("state must be one of pending, assigned, provisioning, running, deleting, deleted, "
                                  "failed, lost, unmanaged",
                                  "state");
    }
    return *state;
}

void write_pending_reason(JsonWriter& json, const lifecycle::PendingReason& reason) {
    const auto& nodes = reason.nodes;
    json.begin_object().field("code", lifecycle::to_string(reason.code));
    json.key("nodes")
        .begin_object()
        .field("total", nodes.total)
        .field("offline", nodes.offline)
        .field("draining", nodes.draining)
        .field("full", nodes.full)
        .field("labelsMismatch", nodes.labels_mismatch)
        .field("notEnoughMemory", nodes.not_enough_memory)
        .field("free", nodes.fits)
        .end_object();
    json.field("aheadInQueue", reason.ahead_in_queue).field("tenantAtCap", reason.tenant_at_cap);
    if (reason.code == lifecycle::PendingCode::no_node_carries_labels) {
        json.key("missingLabels").begin_array();
        for (const auto& label : reason.nodes.missing_labels) json.value(protocol::to_string({label}));
        json.end_array();
    }
    json.end_object();
}

std::string describe(const lifecycle::PendingReason& reason) {
    using lifecycle::PendingCode;
    const auto& nodes = reason.nodes;
    const auto of_total = [&nodes](std::size_t count) {
        return std::to_string(count) + " of " + std::to_string(nodes.total) + " nodes";
    };
    switch (reason.code) {
    case PendingCode::no_nodes: return "no node has reported yet";
    case PendingCode::no_node_carries_labels: {
        std::string labels;
        for (const auto& label : nodes.missing_labels) labels += (labels.empty() ? "" : ", ") + protocol::to_string({label});
        return "no node carries the labels " + labels + ": it cannot be placed until one does";
    }
    case PendingCode::tenant_at_cap: return "its tenant has its most VMs (maxVms) placed already";
    case PendingCode::behind_in_queue:
        return std::to_string(reason.ahead_in_queue) + " requests ahead of it go first";
    case PendingCode::no_free_slot: return "every node that fits is full (" + of_total(nodes.full) + ")";
    case PendingCode::not_enough_memory:
        return "nodes with a free slot have less memory free than asked for (" + of_total(nodes.not_enough_memory) + ")";
    case PendingCode::all_offline: return "every node is offline";
    case PendingCode::all_draining: return "every node is offline or draining";
    case PendingCode::labels_mismatch:
        return "the nodes that carry its labels are offline or draining (" + of_total(nodes.labels_mismatch) +
               " online lack them)";
    }
    return "unknown";
}

std::string pending_reason_json(const lifecycle::PendingReason& reason) {
    std::string text;
    JsonWriter json{text};
    write_pending_reason(json, reason);
    return text;
}

void write_vm(JsonWriter& json, const lifecycle::VmRecord& vm, const protocol::VmReport* reported,
              const lifecycle::PendingReason* pending, VmDetail detail) {
    json.begin_object();
    write_vm_members(json, vm, reported, pending, detail);
    json.end_object();
}

void write_vm_members(JsonWriter& json, const lifecycle::VmRecord& vm, const protocol::VmReport* reported,
                      const lifecycle::PendingReason* pending, VmDetail detail) {
    json.field("vmId", vm.vm_id).field("state", protocol::to_string(vm.state));
    json.key("nodeId");
    vm.node_id.empty() ? json.null() : json.value(vm.node_id);
    json.field("imageName", vm.spec.image_name)
        .field("imageCached", vm.image_cached)
        .field("managed", vm.managed)
        .key("labels");
    protocol::write_labels(json, vm.spec.labels);
    json.key("cpu");
    vm.spec.cpu ? json.value(*vm.spec.cpu) : json.null();
    json.key("memoryGB");
    vm.spec.memory_gb ? json.value(*vm.spec.memory_gb) : json.null();
    json.key("metadata");
    vm.spec.metadata_json.empty() ? json.null() : json.raw(vm.spec.metadata_json);
    json.field("createdAt", vm.created_at).field("updatedAt", vm.updated_at).field("attempts", vm.attempts);
    json.field("priority", vm.spec.priority).key("tenant");
    vm.spec.tenant.empty() ? json.null() : json.value(vm.spec.tenant);
    if (pending != nullptr) {
        json.key("pendingReason");
        write_pending_reason(json, *pending);
    }
    if (!vm.failure_reason.empty()) json.field("failureReason", vm.failure_reason);
    if (!vm.message.empty()) json.field("message", vm.message);
    if (vm.progress) json.field("progress", *vm.progress);
    if (vm.host_vm_id != vm.vm_id) json.field("hostVmId", vm.host_vm_id);
    if (reported != nullptr) {
        json.field("runtimeSeconds", reported->runtime_seconds)
            .field("vmHostname", reported->vm_hostname)
            .field("vmIpAddress", reported->vm_ip_address);
    }
    if (detail == VmDetail::listed) return;
    json.key("transitions").begin_array();
    for (const auto& transition : vm.transitions) {
        json.begin_object().field("state", protocol::to_string(transition.state)).field("at", transition.at);
        json.key("nodeId");
        transition.node_id.empty() ? json.null() : json.value(transition.node_id);
        json.field("message", transition.message).end_object();
    }
    json.end_array();
}

} // namespace macvmorx::api
