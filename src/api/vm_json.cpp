#include "macvmorx/api/vm_json.hpp"

#include "json_fields.hpp"
#include "macvmorx/api/fleet_json.hpp"
#include "macvmorx/http/http_error.hpp"
#include "macvmorx/json/json_writer.hpp"

namespace macvmorx::api {
namespace {

constexpr StringRule vm_id_rule{1, 64, identifier_rule.allowed, identifier_rule.allowed_description};
constexpr StringRule message_rule{0, 1024};

} // namespace

VmRequest parse_vm_request(std::string_view body) {
    const nlohmann::json document = parse_json_object(body);
    const FieldReader fields{document};
    VmRequest request;
    request.spec.image_name = fields.required_string("imageName", image_name_rule);
    request.vm_id = fields.string("vmId", vm_id_rule);
    request.spec.labels = fields.labels("labels");
    if (const auto cpu = fields.optional_integer("cpu", 1, 64)) request.spec.cpu = static_cast<int>(*cpu);
    request.spec.memory_gb = fields.optional_number("memoryGB", 0.001, 1024);
    if (const auto* metadata = fields.object("metadata")) {
        request.spec.metadata_json = metadata->dump();
        if (request.spec.metadata_json.size() > max_metadata_bytes) {
            throw http::Unprocessable("metadata may take at most " + std::to_string(max_metadata_bytes) +
                                          " bytes as JSON",
                                      "metadata");
        }
    }
    request.wait = fields.optional_boolean("wait").value_or(false);
    return request;
}

lifecycle::VmState parse_state_filter(std::string_view text) {
    const auto state = lifecycle::parse_vm_state(text);
    if (!state) {
        throw http::Unprocessable("state must be one of pending, assigned, provisioning, running, deleting, deleted, "
                                  "failed, lost, unmanaged",
                                  "state");
    }
    return *state;
}

lifecycle::VmEvent parse_vm_event(std::string_view body) {
    const nlohmann::json document = parse_json_object(body);
    const FieldReader fields{document};
    const std::string state = fields.required_string("state", {1, 32});
    lifecycle::VmEvent event;
    const auto parsed = lifecycle::parse_vm_state(state);
    using lifecycle::VmState;
    if (!parsed || (*parsed != VmState::provisioning && *parsed != VmState::running && *parsed != VmState::failed &&
                    *parsed != VmState::deleted)) {
        throw http::Unprocessable("state must be provisioning, running, failed or deleted", "state");
    }
    event.state = *parsed;
    event.message = fields.string("message", message_rule);
    event.progress = fields.optional_number("progress", 0, 1);
    return event;
}

void write_vm(JsonWriter& json, const lifecycle::VmRecord& vm, const fleet::VmReport* reported) {
    json.begin_object().field("vmId", vm.vm_id).field("state", lifecycle::to_string(vm.state));
    json.key("nodeId");
    vm.node_id.empty() ? json.null() : json.value(vm.node_id);
    json.field("imageName", vm.spec.image_name)
        .field("imageCached", vm.image_cached)
        .field("managed", vm.managed)
        .key("labels");
    write_labels(json, vm.spec.labels);
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
        json.begin_object().field("state", lifecycle::to_string(transition.state)).field("at", transition.at);
        json.key("nodeId");
        transition.node_id.empty() ? json.null() : json.value(transition.node_id);
        json.field("message", transition.message).end_object();
    }
    json.end_array().end_object();
}

void write_command(JsonWriter& json, const lifecycle::Command& command) {
    json.begin_object()
        .field("id", command.id)
        .field("type", lifecycle::to_string(command.type))
        .field("vmId", command.vm_id);
    if (command.type == lifecycle::CommandType::create_vm) {
        json.field("imageName", command.image_name).field("imageCached", command.image_cached);
        if (command.cpu) json.field("cpu", *command.cpu);
        if (command.memory_gb) json.field("memoryGB", *command.memory_gb);
        if (!command.runner_config.empty()) json.field("runnerConfig", command.runner_config);
    }
    json.end_object();
}

void write_commands(JsonWriter& json, const std::vector<lifecycle::Command>& commands) {
    json.begin_array();
    for (const auto& command : commands) write_command(json, command);
    json.end_array();
}

std::vector<lifecycle::Command> parse_commands(std::string_view body) {
    const nlohmann::json document = parse_json_object(body);
    const FieldReader fields{document};
    std::vector<lifecycle::Command> commands;
    const auto* items = fields.array("commands", 1024);
    if (items == nullptr) return commands;
    for (std::size_t i = 0; i < items->size(); ++i) {
        const auto& item = (*items)[i];
        const std::string path = "commands[" + std::to_string(i) + "]";
        if (!item.is_object()) throw http::BadRequest(path + " must be an object", path);
        const FieldReader command_fields{item, path + "."};
        lifecycle::Command command;
        command.id = command_fields.required_string("id", {1, 128});
        const std::string type = command_fields.required_string("type", {1, 32});
        if (type == "createVm") {
            command.type = lifecycle::CommandType::create_vm;
        } else if (type == "deleteVm") {
            command.type = lifecycle::CommandType::delete_vm;
        } else {
            // A newer orchestrator may send commands this agent does not know: skip them.
            continue;
        }
        command.vm_id = command_fields.required_string("vmId", vm_id_rule);
        command.image_name = command_fields.string("imageName", {0, image_name_rule.max_length});
        command.image_cached = command_fields.optional_boolean("imageCached").value_or(false);
        if (const auto cpu = command_fields.optional_integer("cpu", 1, 64)) command.cpu = static_cast<int>(*cpu);
        command.memory_gb = command_fields.optional_number("memoryGB", 0, 1024);
        command.runner_config = command_fields.string("runnerConfig", {0, 64 * 1024});
        if (command.type == lifecycle::CommandType::create_vm && command.image_name.empty()) {
            throw http::BadRequest(path + ".imageName is required for createVm", path + ".imageName");
        }
        commands.push_back(std::move(command));
    }
    return commands;
}

void write_vm_event(JsonWriter& json, const lifecycle::VmEvent& event) {
    json.begin_object().field("state", lifecycle::to_string(event.state));
    if (!event.message.empty()) json.field("message", event.message);
    if (event.progress) json.field("progress", *event.progress);
    json.end_object();
}

} // namespace macvmorx::api
