#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace macvmorx::auth {
struct Token;
}

namespace macvmorx::http {

enum class Method { get, head, post, put, patch, del, options, other };

std::string_view to_string(Method method);

struct Header {
    std::string name;
    std::string value;
};

// Finds a header by case-insensitive name.
std::optional<std::string_view> find_header(const std::vector<Header>& headers, std::string_view name);

// A request as handlers see it: no sockets, no Beast types, so that tests and the router can
// build one by hand. The transport fills it; the router adds the path parameters.
struct Request {
    Method method = Method::get;
    std::string other_method; // the method as sent, when it is none the enum names
    std::string target; // path and query as sent, e.g. "/api/vms?state=running"
    std::vector<Header> headers;
    std::string body;
    std::string remote_address;

    // Filled by the router: decoded path and query, and the {named} parts of the route.
    std::string path;
    std::vector<std::pair<std::string, std::string>> query;
    std::vector<std::pair<std::string, std::string>> path_params;
    // Filled by the access guard: who sent the request, when the API requires tokens and
    // the request carried a valid one; null otherwise.
    std::shared_ptr<const auth::Token> caller;
    // Filled by a TLS transport that asks for client certificates (--client-ca): the common
    // name and DNS names of the client's verified certificate, empty when it sent none.
    // Absent when the transport asks for none.
    std::optional<std::vector<std::string>> client_certificate_names;

    std::optional<std::string_view> header(std::string_view name) const { return find_header(headers, name); }
    // "GET", or the method as sent ("PROPFIND"), for messages and logs.
    std::string_view method_name() const { return method == Method::other ? std::string_view{other_method} : to_string(method); }
    std::optional<std::string_view> query_param(std::string_view name) const;
    // The value of a {name} in the route pattern; empty if the route has none.
    std::string_view path_param(std::string_view name) const;
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<Header> headers;

    void set_header(std::string name, std::string value);
    std::optional<std::string_view> header(std::string_view name) const { return find_header(headers, name); }

    static Response json(int status, std::string body);
};

} // namespace macvmorx::http
