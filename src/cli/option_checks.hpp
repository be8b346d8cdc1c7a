#pragma once

#include <CLI/CLI.hpp>

#include <string_view>

// Checks of values given as text, shared by the subcommands: each names what it expects.
namespace macvmorx::cli {

extern const CLI::Validator positive_duration_check; // 500ms, 45s, 1m, 1h: longer than 0
extern const CLI::Validator address_check;           // an IPv4 or IPv6 address
extern const CLI::Validator byte_size_check;         // 65536, 512KiB, 1MiB; larger than 0
extern const CLI::Validator server_url_check;        // http(s)://host:port

// The check of a setting's unit (DURATION, SIZE, ADDRESS, URL); none for other values.
const CLI::Validator* unit_check(std::string_view unit);

} // namespace macvmorx::cli
