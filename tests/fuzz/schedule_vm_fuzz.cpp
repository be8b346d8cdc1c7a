// The body of POST /api/schedule-vm: parse_vm_request, as handle_schedule_vm calls it (the
// handler itself needs a whole orchestrator). The same bytes also go to parse_vm_event, the body
// of POST /api/vms/{vmId}/events, which reads with the same field reader. A refusal is a 400 or a
// 422; what is accepted is within the documented limits.

#include "property.hpp"

#include "macvmorx/api/vm_json.hpp"
#include "macvmorx/base/invalid_input.hpp"
#include "macvmorx/protocol/vm_event_json.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

using namespace macvmorx;
using fuzz::expect;

namespace {

void expect_refusal(const InvalidInput& error) {
    expect(!std::string_view{error.what()}.empty(), "a refused body says why");
}

bool sorted_and_unique(const protocol::Labels& labels) {
    return std::adjacent_find(labels.begin(), labels.end(), [](const protocol::Label& a, const protocol::Label& b) {
               return a.key >= b.key;
           }) == labels.end();
}

void check_vm_request(std::string_view body) {
    api::VmRequest request;
    try {
        request = api::parse_vm_request(body);
    } catch (const InvalidInput& error) {
        return expect_refusal(error);
    }
    const auto& spec = request.spec;
    expect(!spec.image_name.empty() && spec.image_name.size() <= 256, "imageName is 1 to 256 characters");
    expect(request.vm_id.size() <= 64, "vmId is at most 64 characters");
    expect(!spec.cpu || (*spec.cpu >= 1 && *spec.cpu <= 64), "cpu is 1 to 64");
    expect(!spec.memory_gb || (*spec.memory_gb >= 0.001 && *spec.memory_gb <= 1024), "memoryGB is 0.001 to 1024");
    expect(sorted_and_unique(spec.labels), "labels are sorted, one per key");
    expect(spec.metadata_json.size() <= api::max_metadata_bytes, "metadata is at most 8 KiB");
    if (!spec.metadata_json.empty()) {
        // Stored and echoed as raw JSON: it must be an object that serialises to itself.
        const auto metadata = nlohmann::json::parse(spec.metadata_json, nullptr, false);
        expect(metadata.is_object(), "metadata is a JSON object");
        expect(metadata.dump() == spec.metadata_json, "metadata is stored as its own serialisation");
    }
}

void check_vm_event(std::string_view body) {
    protocol::VmEvent event;
    try {
        event = protocol::parse_vm_event(body);
    } catch (const InvalidInput& error) {
        return expect_refusal(error);
    }
    using protocol::VmState;
    expect(event.state == VmState::provisioning || event.state == VmState::running || event.state == VmState::failed ||
               event.state == VmState::deleted,
           "an event reports provisioning, running, failed or deleted");
    expect(event.message.size() <= 1024, "message is at most 1024 characters");
    expect(!event.progress || (*event.progress >= 0 && *event.progress <= 1), "progress is 0 to 1");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto body = fuzz::as_text(data, size);
    check_vm_request(body);
    check_vm_event(body);
    return 0;
}
