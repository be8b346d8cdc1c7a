#include "option_checks.hpp"

#include "macvmorx/agent/orchestrator_link.hpp"
#include "macvmorx/base/byte_size.hpp"
#include "macvmorx/base/duration.hpp"
#include "macvmorx/http/base_url.hpp"

#include <arpa/inet.h>

namespace macvmorx::cli {

const CLI::Validator positive_duration_check{
    [](std::string& value) -> std::string {
        const auto parsed = parse_duration(value);
        if (!parsed) return "'" + value + "' is not a duration (use e.g. 500ms, 45s, 1m, 1h)";
        return parsed->count() > 0 ? std::string{} : "must be longer than 0";
    },
    "DURATION"};

const CLI::Validator address_check{
    [](std::string& value) -> std::string {
        unsigned char buffer[sizeof(in6_addr)];
        if (inet_pton(AF_INET, value.c_str(), buffer) == 1 || inet_pton(AF_INET6, value.c_str(), buffer) == 1) return {};
        return "'" + value + "' is not an IPv4 or IPv6 address";
    },
    "ADDRESS"};

const CLI::Validator byte_size_check{
    [](std::string& value) -> std::string {
        const auto parsed = parse_byte_size(value);
        if (!parsed) return "'" + value + "' is not a size (use e.g. 65536, 512KiB, 1MiB)";
        return *parsed > 0 ? std::string{} : "must be larger than 0";
    },
    "SIZE"};

const CLI::Validator server_url_check{
    [](std::string& value) -> std::string {
        try {
            http::BaseUrl::parse(value);
            return std::string{};
        } catch (const std::invalid_argument& error) {
            return error.what();
        }
    },
    "URL"};

const CLI::Validator* unit_check(std::string_view unit) {
    if (unit == "DURATION") return &positive_duration_check;
    if (unit == "SIZE") return &byte_size_check;
    if (unit == "ADDRESS") return &address_check;
    if (unit == "URL") return &server_url_check;
    return nullptr;
}

} // namespace macvmorx::cli
