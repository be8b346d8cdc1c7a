// The body of POST /api/heartbeat: parse_heartbeat, as handle_heartbeat calls it, and its two
// halves. The simdjson fast path accepts only what the checked parser accepts, with the same
// heartbeat; an accepted heartbeat reads back the same once written as an agent sends it.

#include "property.hpp"

#include "protocol/heartbeat_fast_path.hpp"
#include "macvmorx/json/json_writer.hpp"
#include "macvmorx/base/invalid_input.hpp"
#include "macvmorx/protocol/heartbeat_json.hpp"

#include <optional>
#include <string>

using namespace macvmorx;
using fuzz::expect;

namespace {

std::optional<protocol::Heartbeat> checked(std::string_view body) {
    try {
        return protocol::parse_heartbeat_checked(body);
    } catch (const InvalidInput& error) {
        expect(!std::string_view{error.what()}.empty(), "a refused heartbeat says why");
        return std::nullopt;
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto body = fuzz::as_text(data, size);
    const auto reference = checked(body);
    const auto fast = protocol::parse_heartbeat_fast(body);
    if (fast) {
        expect(reference.has_value(), "the fast path accepts only what the checked parser accepts");
        expect(*fast == *reference, "the fast path reads the same heartbeat as the checked parser");
    }
    try {
        const auto combined = protocol::parse_heartbeat(body);
        expect(reference && combined == *reference, "parse_heartbeat accepts what the checked parser accepts");
    } catch (const InvalidInput&) {
        expect(!reference, "parse_heartbeat refuses what the checked parser refuses");
    }
    if (!reference) return 0;

    std::string written;
    JsonWriter json{written};
    protocol::write_heartbeat(json, *reference);
    const auto again = checked(written);
    expect(again.has_value(), "a written heartbeat is accepted");
    // The agent's form states the count of VMs that occupy the host.
    auto expected = *reference;
    expected.vm_count = expected.running_vms();
    expect(*again == expected, "a written heartbeat reads back the same");
    return 0;
}
