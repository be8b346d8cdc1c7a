#include "macvmorx/protocol/command_json.hpp"

#include "macvmorx/base/invalid_input.hpp"
#include "macvmorx/json/json_writer.hpp"
#include "macvmorx/protocol/json_fields.hpp"

namespace macvmorx::protocol {
namespace {

// A host caches a handful of images: more than this in one command is not from a daemon.
constexpr std::size_t max_kept_images = 256;

} // namespace

void write_command(JsonWriter& json, const Command& command) {
    json.begin_object()
        .field("id", command.id)
        .field("type", to_string(command.type));
    if (command.type == CommandType::pull_image) {
        json.field("imageName", command.image_name).key("keepImages").begin_array();
        for (const auto& image : command.keep_images) json.value(image);
        json.end_array().end_object();
        return;
    }
    json.field("vmId", command.vm_id);
    if (command.type == CommandType::create_vm) {
        json.field("imageName", command.image_name).field("imageCached", command.image_cached);
        if (command.cpu) json.field("cpu", *command.cpu);
        if (command.memory_gb) json.field("memoryGB", *command.memory_gb);
        if (!command.runner_config.empty()) json.field("runnerConfig", command.runner_config);
    }
    json.end_object();
}

void write_commands(JsonWriter& json, const std::vector<Command>& commands) {
    json.begin_array();
    for (const auto& command : commands) write_command(json, command);
    json.end_array();
}

std::vector<Command> parse_commands(std::string_view body) {
    const nlohmann::json document = parse_json_object(body);
    const FieldReader fields{document};
    std::vector<Command> commands;
    const auto* items = fields.array("commands", 1024);
    if (items == nullptr) return commands;
    for (std::size_t i = 0; i < items->size(); ++i) {
        const auto& item = (*items)[i];
        const std::string path = "commands[" + std::to_string(i) + "]";
        if (!item.is_object()) throw MalformedInput(path + " must be an object", path);
        const FieldReader command_fields{item, path + "."};
        Command command;
        command.id = command_fields.required_string("id", {1, 128});
        const std::string type = command_fields.required_string("type", {1, 32});
        if (type == "createVm") {
            command.type = CommandType::create_vm;
        } else if (type == "deleteVm") {
            command.type = CommandType::delete_vm;
        } else if (type == "pullImage") {
            command.type = CommandType::pull_image;
            command.image_name = command_fields.required_string("imageName", image_name_rule);
            command.keep_images = command_fields.string_array("keepImages", max_kept_images, image_name_rule);
            commands.push_back(std::move(command));
            continue;
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
        if (command.type == CommandType::create_vm && command.image_name.empty()) {
            throw MalformedInput(path + ".imageName is required for createVm", path + ".imageName");
        }
        commands.push_back(std::move(command));
    }
    return commands;
}

} // namespace macvmorx::protocol
