#include "macvmorx/agent/orchestrator_link.hpp"

#include <charconv>

namespace macvmorx::agent {

std::optional<ServerAddress> ServerAddress::parse(std::string_view url) {
    ServerAddress address;
    if (url.starts_with("https://")) {
        address.tls = true;
        url.remove_prefix(8);
    } else if (url.starts_with("http://")) {
        url.remove_prefix(7);
    } else {
        return std::nullopt;
    }
    if (const auto slash = url.find('/'); slash != std::string_view::npos) url = url.substr(0, slash);
    std::string_view host = url;
    if (url.starts_with('[')) { // [::1]:8080
        const auto close = url.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = url.substr(1, close - 1);
        url.remove_prefix(close + 1);
    } else {
        const auto colon = url.rfind(':');
        host = url.substr(0, colon);
        url = colon == std::string_view::npos ? std::string_view{} : url.substr(colon);
    }
    if (!url.empty()) {
        if (url.front() != ':') return std::nullopt;
        unsigned port = 0;
        const auto [end, ec] = std::from_chars(url.data() + 1, url.data() + url.size(), port);
        if (ec != std::errc{} || end != url.data() + url.size() || port == 0 || port > 65535) return std::nullopt;
        address.port = static_cast<std::uint16_t>(port);
    } else {
        address.port = address.tls ? 443 : 80;
    }
    if (host.empty()) return std::nullopt;
    address.host = std::string(host);
    return address;
}

std::string ServerAddress::to_string() const {
    const bool ipv6 = host.find(':') != std::string::npos;
    return (tls ? "https://" : "http://") + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

} // namespace macvmorx::agent
