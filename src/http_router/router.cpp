#include "macvmorx/http/router.hpp"

#include "macvmorx/base/ascii.hpp"
#include "macvmorx/base/invalid_input.hpp"
#include "macvmorx/http/client_log.hpp"
#include "macvmorx/http/http_error.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <cctype>

namespace macvmorx::http {
namespace {

bool is_parameter(std::string_view segment) {
    return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

std::vector<std::string> split_pattern(std::string_view pattern) {
    std::vector<std::string> segments;
    std::size_t start = 1; // patterns begin with '/'
    while (start <= pattern.size()) {
        const auto end = std::min(pattern.find('/', start), pattern.size());
        if (end > start) segments.emplace_back(pattern.substr(start, end - start));
        start = end + 1;
    }
    return segments;
}

// Parses the origin-form target into a decoded path (segments) and query parameters.
std::vector<std::string> parse_target(Request& request) {
    const auto parsed = boost::urls::parse_origin_form(request.target);
    if (!parsed) throw MalformedInput("the request target is not a valid path: " + parsed.error().message());
    const boost::urls::url_view url = *parsed;

    std::vector<std::string> segments;
    for (auto segment : url.segments()) segments.push_back(std::string(segment));
    // "/api/nodes/" means "/api/nodes".
    if (!segments.empty() && segments.back().empty()) segments.pop_back();

    request.path = "/";
    for (std::size_t i = 0; i < segments.size(); ++i) {
        if (i > 0) request.path += '/';
        request.path += segments[i];
    }
    request.query.clear();
    for (const auto& param : url.params()) request.query.emplace_back(param.key, param.value);
    return segments;
}

bool is_json_media_type(std::string_view content_type) {
    const auto semicolon = content_type.find(';');
    std::string media = ascii_lower(content_type.substr(0, semicolon));
    while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.pop_back();
    return media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"));
}

std::string allowed_methods(const std::vector<Method>& methods) {
    std::string allow;
    const auto append = [&allow](std::string_view name) {
        if (allow.find(name) != std::string::npos) return;
        if (!allow.empty()) allow += ", ";
        allow += name;
    };
    for (const auto method : methods) {
        append(to_string(method));
        if (method == Method::get) append("HEAD");
    }
    append("OPTIONS");
    return allow;
}

// OPTIONS on a known path: not an error, but found where the 405 is.
struct OptionsAnswer {
    std::string allow;
};

// Logged once per error; what the client sent is escaped, and client errors are throttled.
void log_error_response(ClientErrorThrottle& throttle, const Request& request, const Response& response,
                        std::string_view message) {
    const bool server_error = response.status >= 500 && response.status != 503;
    std::string unlogged;
    if (response.status < 500) {
        const auto admitted = throttle.admit();
        if (!admitted) return;
        if (*admitted > 0) unlogged = " (" + std::to_string(*admitted) + " client errors before this one not logged)";
    }
    spdlog::log(server_error ? spdlog::level::err : spdlog::level::warn, "{} {} from {} -> {}: {}{}",
                loggable(request.method_name(), 32), loggable(request.target), request.remote_address, response.status,
                loggable(message), unlogged);
}

} // namespace

std::string_view to_string(Access access) {
    switch (access) {
    case Access::open: return "open";
    case Access::authenticated: return "authenticated";
    case Access::read: return "read";
    case Access::report: return "report";
    case Access::operate: return "operate";
    case Access::administer: return "administer";
    }
    return "administer";
}

// A client error line a second on average... 20, and 100 at once: a loop of bad requests shows,
// but cannot flood the log.
Router::Router() : client_errors_{std::make_shared<ClientErrorThrottle>(20, 100)} {}

void Router::add(Route route, RouteKind kind) {
    long_poll_.push_back(kind == RouteKind::long_poll);
    CompiledRoute compiled;
    compiled.segments = split_pattern(route.pattern);
    compiled.literal_count = static_cast<std::size_t>(
        std::count_if(compiled.segments.begin(), compiled.segments.end(),
                      [](const std::string& segment) { return !is_parameter(segment); }));
    routes_.push_back(std::move(route));
    compiled_.push_back(std::move(compiled));
}

namespace {

void finish(Response& response) {
    if (response.content_type != "application/json") return;
    // Listings set their own (no-cache, with an ETag); every other answer is not to be stored.
    if (!response.header("Cache-Control")) response.set_header("Cache-Control", "no-store");
    response.set_header("X-Content-Type-Options", "nosniff");
}

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

void log_access(const Request& request, int status, double seconds) {
    if (!spdlog::should_log(spdlog::level::debug)) return;
    spdlog::debug("{} {} from {} -> {} in {:.3f} ms", loggable(request.method_name(), 32), loggable(request.target),
                  request.remote_address, status, seconds * 1000);
}

// Everything the router does once an answer exists: common headers, the access log, the
// observer, and errors logged once. Asynchronous answers pass through it later.
class FinishingReply final : public Reply {
public:
    FinishingReply(std::shared_ptr<Reply> inner, const Request& request, std::size_t route, RequestObserver* observer,
                   Clock::time_point start, ClientErrorThrottle& client_errors)
        : inner_{std::move(inner)}, route_{route}, observer_{observer}, start_{start}, client_errors_{client_errors} {
        context_.method = request.method;
        context_.other_method = request.other_method;
        context_.target = request.target;
        context_.remote_address = request.remote_address;
    }

    // The long poll's place among those waiting, given back with the answer.
    void hold_wait(std::shared_ptr<void> wait) { wait_ = std::move(wait); }

    void send(Response response) override {
        wait_.reset();
        finish(response);
        const double seconds = seconds_since(start_);
        if (observer_ != nullptr) observer_->on_answer(route_, context_.method, response.status, seconds);
        log_access(context_, response.status, seconds);
        if (response.status >= 400) log_error_response(client_errors_, context_, response, response.body);
        inner_->send(std::move(response));
    }
    bool abandoned() const override { return inner_->abandoned(); }

private:
    std::shared_ptr<Reply> inner_;
    Request context_;
    std::size_t route_;
    RequestObserver* observer_;
    Clock::time_point start_;
    ClientErrorThrottle& client_errors_;
    std::shared_ptr<void> wait_;
};

// A place among the long polls waiting, given back when the handle goes; throws 503 when all
// are taken.
std::shared_ptr<void> take_wait(const std::shared_ptr<std::atomic<std::size_t>>& waiting, std::size_t limit) {
    if (waiting->fetch_add(1, std::memory_order_relaxed) >= limit) {
        waiting->fetch_sub(1, std::memory_order_relaxed);
        throw HttpError(503, "too many long polls",
                        "the daemon holds its most long polls (--max-long-polls " + std::to_string(limit) +
                            ") already; poll again later or rely on the commands heartbeats carry")
            .with_header("Retry-After", "5");
    }
    return std::shared_ptr<void>(nullptr, [waiting](void*) { waiting->fetch_sub(1, std::memory_order_relaxed); });
}

// A synchronous answer, finished in place (no allocation on the hot path).
void finish_now(Response& response, const Request& request, std::size_t route, RequestObserver* observer,
                Clock::time_point start) {
    finish(response);
    const double seconds = seconds_since(start);
    if (observer != nullptr) observer->on_answer(route, request.method, response.status, seconds);
    log_access(request, response.status, seconds);
}

// Keeps the answer of a route that answered at once.
class CapturedReply final : public Reply {
public:
    void send(Response response) override {
        if (!response_) response_ = std::move(response);
    }
    std::optional<Response> response_;
};

} // namespace

const Route& Router::resolve(Request& request) const {
    const auto segments = parse_target(request);

    const Route* best = nullptr;
    const CompiledRoute* best_compiled = nullptr;
    std::vector<Method> methods_on_path;
    std::size_t best_literals = 0;
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        const auto& compiled = compiled_[i];
        if (compiled.segments.size() != segments.size()) continue;
        bool matches = true;
        for (std::size_t s = 0; s < segments.size() && matches; ++s) {
            matches = is_parameter(compiled.segments[s]) || compiled.segments[s] == segments[s];
        }
        if (!matches) continue;
        methods_on_path.push_back(routes_[i].method);
        const bool method_fits = routes_[i].method == request.method ||
                                 (request.method == Method::head && routes_[i].method == Method::get);
        if (method_fits && (best == nullptr || compiled.literal_count > best_literals)) {
            best = &routes_[i];
            best_compiled = &compiled;
            best_literals = compiled.literal_count;
        }
    }

    if (best == nullptr) {
        if (methods_on_path.empty()) throw NotFound("not found", "no route for " + request.path);
        if (request.method == Method::options) throw OptionsAnswer{allowed_methods(methods_on_path)};
        throw HttpError(405, "method not allowed",
                        std::string(request.method_name()) + " is not allowed on " + request.path)
            .with_header("Allow", allowed_methods(methods_on_path));
    }

    request.path_params.clear();
    for (std::size_t s = 0; s < segments.size(); ++s) {
        const auto& part = best_compiled->segments[s];
        if (is_parameter(part)) request.path_params.emplace_back(part.substr(1, part.size() - 2), segments[s]);
    }

    return *best;
}

namespace {

bool changes_state(Method method) {
    return method == Method::post || method == Method::put || method == Method::patch || method == Method::del;
}

// A request that changes something is JSON or nothing. A browser's form can post any other type
// to any site without asking first (a "simple" request, Fetch standard), so an open daemon must
// not act on one: JSON routes want a JSON body with its media type, and the routes that take no
// body accept no other media type. GitHub's webhook is JSON too.
void check_content_type(const Route& route, const Request& request) {
    if (route.body == Body::any) return;
    const auto content_type = request.header("Content-Type");
    if (content_type && !is_json_media_type(*content_type) && (!request.body.empty() || changes_state(request.method))) {
        throw UnsupportedMediaType("the body must be JSON (Content-Type: application/json), not " +
                                   std::string(*content_type));
    }
    if (route.body == Body::json && !request.body.empty() && !content_type) {
        throw UnsupportedMediaType("a JSON body needs its media type: Content-Type: application/json");
    }
}

// What a web page in a lab member's browser may not do: change state on this daemon from
// another site. Browsers say where a request comes from (Sec-Fetch-Site, Origin); curl and the
// agent say nothing and are let through, as is the dashboard, which is same-origin.
void check_same_origin(const Request& request) {
    if (!changes_state(request.method)) return;
    if (const auto site = request.header("Sec-Fetch-Site"); site && *site != "same-origin" && *site != "none") {
        throw Forbidden("cross-site request refused",
                        "a browser sent this from another site (Sec-Fetch-Site: " + std::string(*site) + ")");
    }
    const auto origin = request.header("Origin");
    if (!origin) return;
    // "scheme://host[:port]": its host and port must be the ones the request was sent to.
    const auto scheme_end = origin->find("://");
    const std::string_view authority = scheme_end == std::string_view::npos ? std::string_view{} : origin->substr(scheme_end + 3);
    const auto same = [](std::string_view a, std::optional<std::string_view> b) {
        return b && a.size() == b->size() && std::equal(a.begin(), a.end(), b->begin(), [](char x, char y) {
                   return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
               });
    };
    // A proxy in front may rewrite Host; it says the original in X-Forwarded-Host, which no page
    // can set on another site's request without a CORS preflight this daemon never allows.
    if (authority.empty() || !(same(authority, request.header("Host")) || same(authority, request.header("X-Forwarded-Host")))) {
        throw Forbidden("cross-site request refused", "a browser sent this from " + std::string(*origin) +
                                                          ", not from this daemon's own pages");
    }
}

} // namespace

void Router::dispatch(Request& request, std::shared_ptr<Reply> reply) const {
    const auto start = Clock::now();
    std::size_t route_index = RequestObserver::no_route;
    Response response;
    try {
        const Route& route = resolve(request);
        route_index = static_cast<std::size_t>(&route - routes_.data());
        if (gate_ != nullptr) gate_->check(route, request);
        check_same_origin(request);
        if (guard_ != nullptr) guard_->check(route.access, request);
        check_content_type(route, request);
        if (const auto* handler = std::get_if<Handler>(&route.handler)) {
            response = (*handler)(request);
        } else {
            auto finishing = std::make_shared<FinishingReply>(reply, request, route_index, observer_, start, *client_errors_);
            if (long_poll_[route_index]) finishing->hold_wait(take_wait(long_polls_, max_long_polls_));
            // A copy of `reply`: if the handler throws, the error below still has it.
            std::get<AsyncHandler>(route.handler)(request, std::move(finishing));
            return;
        }
    } catch (const OptionsAnswer& options) {
        response = Response{};
        response.status = 204;
        response.content_type.clear();
        response.set_header("Allow", options.allow);
    } catch (const HttpError& error) {
        response = error_response(error);
        log_error_response(*client_errors_, request, response, error.what());
    } catch (const InvalidInput& input) {
        response = error_response(to_http_error(input));
        log_error_response(*client_errors_, request, response, input.what());
    } catch (const std::exception& error) {
        response = error_response(HttpError(500, "internal error", "the server could not answer this request"));
        log_error_response(*client_errors_, request, response, error.what());
    }
    finish_now(response, request, route_index, observer_, start);
    reply->send(std::move(response));
}

void Router::refused(std::string_view target, int status) const {
    if (observer_ != nullptr) observer_->on_refused(target, status);
}

Response Router::handle(Request& request) const {
    auto captured = std::make_shared<CapturedReply>();
    dispatch(request, captured);
    if (captured->response_) return std::move(*captured->response_);
    return error_response(HttpError(500, "internal error", "this route answers asynchronously"));
}

} // namespace macvmorx::http
