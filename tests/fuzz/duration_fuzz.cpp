// parse_duration: flags, the configuration file and the `wait` query parameter of the agents'
// long poll (GET /api/nodes/{nodeId}/commands?wait=25s). What it accepts is never negative, and
// its shortest spelling reads back as the same duration.

#include "property.hpp"

#include "macvmorx/base/duration.hpp"

using namespace macvmorx;
using fuzz::expect;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto duration = parse_duration(fuzz::as_text(data, size));
    if (!duration) return 0;
    expect(duration->count() >= 0, "a duration is never negative");
    const auto again = parse_duration(format_duration(*duration));
    expect(again == duration, "a formatted duration reads back the same");
    return 0;
}
