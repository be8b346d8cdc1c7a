#include "macvmorx/protocol/vm_event_json.hpp"

#include "macvmorx/base/invalid_input.hpp"
#include "macvmorx/json/json_writer.hpp"
#include "macvmorx/protocol/json_fields.hpp"

namespace macvmorx::protocol {
namespace {

constexpr StringRule message_rule{0, 1024};

} // namespace

VmEvent parse_vm_event(std::string_view body) {
    const nlohmann::json document = parse_json_object(body);
    const FieldReader fields{document};
    const std::string state = fields.required_string("state", {1, 32});
    VmEvent event;
    const auto parsed = parse_vm_state(state);
    if (!parsed || (*parsed != VmState::provisioning && *parsed != VmState::running && *parsed != VmState::failed &&
                    *parsed != VmState::deleted)) {
        throw InvalidValue("state must be provisioning, running, failed or deleted", "state");
    }
    event.state = *parsed;
    event.message = fields.string("message", message_rule);
    event.progress = fields.optional_number("progress", 0, 1);
    return event;
}

void write_vm_event(JsonWriter& json, const VmEvent& event) {
    json.begin_object().field("state", to_string(event.state));
    if (!event.message.empty()) json.field("message", event.message);
    if (event.progress) json.field("progress", *event.progress);
    json.end_object();
}

} // namespace macvmorx::protocol
