#pragma once

#include <cstddef>
#include <string>

namespace macvmorx::config {

// How a macvmorx command logs.
struct LogConfig {
    std::string level = "info";
    std::string format = "text"; // "text" for people, "json" (one object per line) for log shippers
    std::string file;            // empty: standard error
    std::size_t file_max_bytes = 100u << 20; // a file is rotated when it reaches this size
    std::size_t file_count = 5;              // rotated files kept
};

} // namespace macvmorx::config
