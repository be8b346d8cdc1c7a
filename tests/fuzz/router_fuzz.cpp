// The router's matching (Router::handle): a request target, decoded and matched against a route
// table with the daemon's patterns (those of src/api/routes.cpp), path parameters extracted. The
// handlers here only check what they were given. An input is "METHOD TARGET", then optionally a
// line with the Content-Type and the body.
//
// Every answer is one the router documents (no 500: nothing but an HttpError may escape the
// matching); a handler runs only for its method, with exactly its pattern's parameters; a 405
// and an OPTIONS answer say which methods are allowed.

#include "property.hpp"

#include "macvmorx/http/router.hpp"

#include <spdlog/spdlog.h>

#include <string>
#include <utility>
#include <vector>

using namespace macvmorx;
using fuzz::expect;
using http::Method;

namespace {

struct Pattern {
    Method method;
    const char* pattern;
    http::Body body = http::Body::none;
    bool answers_later = false;
};

// The table of src/api/routes.cpp: the same methods, patterns and bodies. Without an access guard
// (the API without tokens) every route is open.
constexpr Pattern patterns[] = {
    {Method::post, "/api/heartbeat", http::Body::json},
    {Method::get, "/api/nodes/{nodeId}/commands", http::Body::none, true},
    {Method::post, "/api/nodes/{nodeId}/commands/{commandId}/ack"},
    {Method::post, "/api/vms/{vmId}/events", http::Body::json},
    {Method::get, "/api/fleet"},
    {Method::get, "/api/nodes"},
    {Method::get, "/api/nodes/{nodeId}"},
    {Method::post, "/api/nodes/{nodeId}/drain", http::Body::none, true},
    {Method::post, "/api/nodes/{nodeId}/undrain", http::Body::none, true},
    {Method::put, "/api/nodes/{nodeId}/labels", http::Body::json, true},
    {Method::del, "/api/nodes/{nodeId}", http::Body::none, true},
    {Method::post, "/api/schedule-vm", http::Body::json, true},
    {Method::get, "/api/vms"},
    {Method::get, "/api/vms/{vmId}"},
    {Method::del, "/api/vms/{vmId}", http::Body::none, true},
    {Method::get, "/api/queue"},
    {Method::post, "/webhooks/github", http::Body::json, true},
    {Method::get, "/api/jobs"},
    {Method::get, "/api/jobs/{jobId}"},
    {Method::get, "/metrics"},
    {Method::get, "/api/whoami"},
    {Method::get, "/healthz"},
    {Method::get, "/readyz"},
    {Method::get, "/"},
    {Method::get, "/assets/{file}"},
};

// The {names} of a pattern, in order.
std::vector<std::string> parameter_names(std::string_view pattern) {
    std::vector<std::string> names;
    for (auto open = pattern.find('{'); open != std::string_view::npos; open = pattern.find('{', open)) {
        const auto close = pattern.find('}', open);
        names.emplace_back(pattern.substr(open + 1, close - open - 1));
        open = close;
    }
    return names;
}

// What the last handler that ran was given.
struct Call {
    const Pattern* route = nullptr;
    Method method = Method::other;
};
Call last_call;

void record(const Pattern& route, const http::Request& request) {
    last_call = {&route, request.method};
    const auto names = parameter_names(route.pattern);
    expect(request.path_params.size() == names.size(), "a handler gets one value per {name} of its pattern");
    for (std::size_t i = 0; i < names.size(); ++i) {
        expect(request.path_params[i].first == names[i], "path parameters are named as in the pattern");
    }
    expect(request.path.starts_with('/'), "the decoded path starts with '/'");
}

http::Router make_router() {
    http::Router router;
    for (const auto& route : patterns) {
        if (route.answers_later) {
            router.add({route.method, route.pattern,
                        http::AsyncHandler{[&route](const http::Request& request, std::shared_ptr<http::Reply> reply) {
                            record(route, request);
                            reply->send(http::Response::json(200, "{}"));
                        }},
                        "", route.body});
        } else {
            router.add({route.method, route.pattern, http::Handler{[&route](const http::Request& request) {
                            record(route, request);
                            return http::Response::json(200, "{}");
                        }},
                        "", route.body});
        }
    }
    return router;
}

const http::Router& router() {
    static const http::Router instance = make_router();
    return instance;
}

Method parse_method(std::string_view name) {
    constexpr std::pair<std::string_view, Method> methods[] = {
        {"GET", Method::get},   {"HEAD", Method::head},     {"POST", Method::post},      {"PUT", Method::put},
        {"PATCH", Method::patch}, {"DELETE", Method::del}, {"OPTIONS", Method::options},
    };
    for (const auto& [text, method] : methods) {
        if (name == text) return method;
    }
    return Method::other;
}

// Splits off the text up to the next newline.
std::string_view take_line(std::string_view& rest) {
    const auto end = rest.find('\n');
    const auto line = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
    return line;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // Refused requests are logged as warnings: not wanted a million times.
    spdlog::set_level(spdlog::level::off);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto rest = fuzz::as_text(data, size);
    const auto request_line = take_line(rest);
    const auto space = request_line.find(' ');
    if (space == std::string_view::npos) return 0;
    http::Request request;
    request.method = parse_method(request_line.substr(0, space));
    request.target = std::string(request_line.substr(space + 1));
    if (const auto content_type = take_line(rest); !content_type.empty()) {
        request.headers.push_back({"Content-Type", std::string(content_type)});
    }
    request.body = std::string(rest);
    request.remote_address = "127.0.0.1";

    last_call = {};
    const auto response = router().handle(request);
    const int status = response.status;
    expect(status == 200 || status == 204 || status == 400 || status == 404 || status == 405 || status == 415,
           "the router answers 200 (a handler ran), 204, 400, 404, 405 or 415");
    expect((status == 200) == (last_call.route != nullptr), "a handler ran exactly when the answer is 200");
    if (last_call.route != nullptr) {
        const auto wanted = last_call.route->method;
        expect(request.method == wanted || (request.method == Method::head && wanted == Method::get),
               "a handler runs only for its method (HEAD for GET)");
    }
    if (status == 405 || status == 204) {
        const auto allow = response.header("Allow");
        expect(allow && allow->find("OPTIONS") != std::string_view::npos, "405 and 204 say which methods are allowed");
    }
    if (status == 405) expect(request.method != Method::options, "OPTIONS on a known path is answered 204");
    return 0;
}
