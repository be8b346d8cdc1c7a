#pragma once

// What the fuzz targets share: the input as text, and a property that must hold. A failed one is
// reported and aborts, so that libFuzzer counts it as a crash and keeps the input.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace macvmorx::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

inline void expect(bool holds, std::string_view property) {
    if (holds) return;
    std::fprintf(stderr, "property does not hold: %.*s\n", static_cast<int>(property.size()), property.data());
    std::abort();
}

} // namespace macvmorx::fuzz
