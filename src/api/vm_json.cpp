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

void write_vm(JsonWriter& json, const lifecycle::VmRecord& vm, const protocol::VmReport* reported) {
    json.begin_object().field("vmId", vm.vm_id).field("state", protocol::to_string(vm.state));
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
    if (!vm.failure_reason.empty()) json.field("failureReason", vm.failure_reason);
    if (!vm.message.empty()) json.field("message", vm.message);
    if (vm.progress) json.field("progress", *vm.progress);
    if (vm.host_vm_id != vm.vm_id) json.field("hostVmId", vm.host_vm_id);
    if (reported != nullptr) {
        json.field("runtimeSeconds", reported->runtime_seconds)
            .field("vmHostname", reported->vm_hostname)
            .field("vmIpAddress", reported->vm_ip_address);
    }
    json.key("transitions").begin_array();
    for (const auto& transition : vm.transitions) {
        json.begin_object().field("state", protocol::to_string(transition.state)).field("at", transition.at);
        json.key("nodeId");
        transition.node_id.empty() ? json.null() : json.value(transition.node_id);
        json.field("message", transition.message).end_object();
    }
    json.end_array().end_object();
}

} // namespace macvmorx::api
