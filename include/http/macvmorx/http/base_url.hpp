#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace macvmorx::http {

// Where a client connects: "https://api.github.com", "http://127.0.0.1:9000/api/v3",
// "https://[::1]:8443". Read by Boost.URL (RFC 3986), the one URL parser of macvmorx.
struct BaseUrl {
    bool tls = true;
    std::string host;        // a name or an address; an IPv6 address without its brackets
    std::uint16_t port = 443;
    std::string path_prefix; // "" or "/api/v3" (GitHub Enterprise Server), no trailing '/'

    // Throws std::invalid_argument for anything but an http(s)://host[:port][/path] URL: no
    // user information, query or fragment.
    static BaseUrl parse(const std::string& url);

    // The request target (path and query, to send to this base) of an absolute `url` under this
    // base: the same scheme, host and port, its path below path_prefix. nullopt for any other
    // URL, so that a link a server hands out cannot send a client elsewhere.
    std::optional<std::string> target_of(std::string_view url) const;

    // "https://host:port", brackets around an IPv6 address; for logs.
    std::string origin() const;

    // The Host header's value (RFC 9110 §7.2): "host", "host:port" when the port is not the
    // scheme's own, "[::1]:9000" for an IPv6 address.
    std::string authority() const;
};

} // namespace macvmorx::http
