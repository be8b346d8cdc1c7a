#pragma once

#include <string_view>

namespace macvmorx {

// The release version, from the CMake project.
std::string_view version();

} // namespace macvmorx
