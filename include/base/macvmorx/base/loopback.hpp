#pragma once

#include <string_view>

namespace macvmorx {

// Whether a host name or address (without its port; IPv6 with or without brackets) is this
// machine's loopback: "localhost", 127.0.0.0/8, ::1. Where plain http:// is let through, for a
// test's stand-in: secrets travel in clear to no other host.
bool is_loopback_host(std::string_view host);

} // namespace macvmorx
