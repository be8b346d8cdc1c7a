#include "macvmorx/http/message.hpp"

#include <algorithm>
#include <cctype>

namespace macvmorx::http {
namespace {

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
    });
}

} // namespace

std::string_view to_string(Method method) {
    switch (method) {
    case Method::get: return "GET";
    case Method::head: return "HEAD";
    case Method::post: return "POST";
    case Method::put: return "PUT";
    case Method::patch: return "PATCH";
    case Method::del: return "DELETE";
    case Method::options: return "OPTIONS";
    case Method::other: break;
    }
    return "OTHER";
}

std::optional<std::string_view> find_header(const std::vector<Header>& headers, std::string_view name) {
    for (const auto& header : headers) {
        if (equals_ignoring_case(header.name, name)) return std::string_view{header.value};
    }
    return std::nullopt;
}

std::optional<std::string_view> Request::query_param(std::string_view name) const {
    for (const auto& [key, value] : query) {
        if (key == name) return std::string_view{value};
    }
    return std::nullopt;
}

std::string_view Request::path_param(std::string_view name) const {
    for (const auto& [key, value] : path_params) {
        if (key == name) return value;
    }
    return {};
}

void Response::set_header(std::string name, std::string value) {
    for (auto& header : headers) {
        if (equals_ignoring_case(header.name, name)) {
            header.value = std::move(value);
            return;
        }
    }
    headers.push_back({std::move(name), std::move(value)});
}

Response Response::json(int status, std::string body) {
    Response response;
    response.status = status;
    response.body = std::move(body);
    return response;
}

} // namespace macvmorx::http
