#include "macvmorx/http/base_url.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <charconv>
#include <stdexcept>
#include <string_view>
#include <system_error>

namespace macvmorx::http {
namespace {

[[noreturn]] void refuse(const std::string& url, std::string_view why) {
    throw std::invalid_argument("'" + url + "' " + std::string(why));
}

} // namespace

BaseUrl BaseUrl::parse(const std::string& url) {
    const auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed) refuse(url, "is not an http:// or https:// URL");
    const boost::urls::url_view view = *parsed;
    BaseUrl base;
    if (view.scheme_id() == boost::urls::scheme::https) {
        base.tls = true;
        base.port = 443;
    } else if (view.scheme_id() == boost::urls::scheme::http) {
        base.tls = false;
        base.port = 80;
    } else {
        refuse(url, "is not an http:// or https:// URL");
    }
    if (!view.has_authority()) refuse(url, "is not an http:// or https:// URL");
    if (view.has_userinfo()) refuse(url, "carries user information; give credentials otherwise");
    if (view.has_query() || view.has_fragment()) refuse(url, "has a query or a fragment");
    base.host = view.host_address();
    if (base.host.empty()) refuse(url, "names no host");
    if (view.has_port()) {
        const std::string_view digits = view.port();
        unsigned port = 0;
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
        if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || port == 0 || port > 65535) {
            refuse(url, "has an invalid port");
        }
        base.port = static_cast<std::uint16_t>(port);
    }
    base.path_prefix = std::string(view.encoded_path());
    // Boost.URL 1.81 reads "http://host:80x" as port 80 and path "x"; a path after an authority
    // starts with '/' (RFC 3986, path-abempty).
    if (!base.path_prefix.empty() && base.path_prefix.front() != '/') refuse(url, "has an invalid port");
    while (base.path_prefix.ends_with('/')) base.path_prefix.pop_back();
    return base;
}

std::optional<std::string> BaseUrl::target_of(std::string_view url) const {
    const auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed) return std::nullopt;
    const boost::urls::url_view view = *parsed;
    const auto scheme = tls ? boost::urls::scheme::https : boost::urls::scheme::http;
    if (view.scheme_id() != scheme || view.has_userinfo() || view.host_address() != host) return std::nullopt;
    const std::uint16_t default_port = tls ? 443 : 80;
    if ((view.has_port() ? view.port_number() : default_port) != port) return std::nullopt;
    const std::string_view path = view.encoded_path();
    if (!path.starts_with(path_prefix + "/")) return std::nullopt;
    std::string target{path.substr(path_prefix.size())};
    if (view.has_query()) target += "?" + std::string(view.encoded_query());
    return target;
}

std::string BaseUrl::origin() const {
    const bool ipv6 = host.find(':') != std::string::npos;
    return std::string(tls ? "https://" : "http://") + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string BaseUrl::authority() const {
    const bool ipv6 = host.find(':') != std::string::npos;
    std::string text = ipv6 ? "[" + host + "]" : host;
    if (port != (tls ? 443 : 80)) text += ":" + std::to_string(port);
    return text;
}

} // namespace macvmorx::http
