#pragma once

#include <cstdint>

namespace macvmorx::app {

// The process's open-files limit (RLIMIT_NOFILE) before and after raising it.
struct OpenFilesLimit {
    std::uint64_t before = 0;
    std::uint64_t after = 0;
    std::uint64_t hard = 0;
};

// Raises the soft limit toward `wanted`, as far as the hard limit allows: each connection and
// each long poll takes a descriptor, and the usual soft limit (1,024) is about 500 Macs.
OpenFilesLimit raise_open_files_limit(std::uint64_t wanted);

} // namespace macvmorx::app
