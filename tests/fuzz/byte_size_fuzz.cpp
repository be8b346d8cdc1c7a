// parse_byte_size (--max-body-size, --log-file-max-size): what it accepts reads back the same
// from format_byte_size's spelling.

#include "property.hpp"

#include "macvmorx/base/byte_size.hpp"

using namespace macvmorx;
using fuzz::expect;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto bytes = parse_byte_size(fuzz::as_text(data, size));
    if (!bytes) return 0;
    expect(parse_byte_size(format_byte_size(*bytes)) == bytes, "a formatted size reads back the same");
    return 0;
}
