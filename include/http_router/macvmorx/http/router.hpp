#pragma once

#include "macvmorx/http/message.hpp"

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace macvmorx::http {

// The answer to one request, given once, possibly later and from another thread (a long
// poll answers when there is news). Extra calls are ignored.
class Reply {
public:
    virtual ~Reply() = default;
    virtual void send(Response response) = 0;
    // Whether the client is gone: it closed its connection while the answer was awaited (a long
    // poll). An answer sent now reaches nobody. Any thread.
    virtual bool abandoned() const { return false; }
};

// Told of every answer, for metrics and access logs. Called on the thread that answers;
// implementations must be cheap and thread-safe.
class RequestObserver {
public:
    static constexpr std::size_t no_route = static_cast<std::size_t>(-1);

    virtual ~RequestObserver() = default;
    // `route` indexes Router::routes(), or is no_route (unknown path, malformed target).
    virtual void on_answer(std::size_t route, Method method, int status, double seconds) = 0;
    // A request refused before routing: malformed HTTP, a header or body over the limits.
    virtual void on_refused(std::string_view target, int status) = 0;
};

// Most handlers answer at once; an asynchronous one keeps the Reply and answers later.
using Handler = std::function<Response(const Request&)>;
using AsyncHandler = std::function<void(const Request&, std::shared_ptr<Reply>)>;

// Who may call a route. The access guard maps callers' credentials to these.
//   open: anyone (the page's files, health checks, GitHub's HMAC-signed webhooks)
//   authenticated: any valid token, whatever its role (who am I?)
//   read: every GET of the API and the metrics
//   report: an agent's heartbeats, commands and VM events
//   operate: placing and deleting VMs
//   administer: draining, labelling and forgetting nodes
enum class Access { open, authenticated, read, report, operate, administer };

std::string_view to_string(Access access);

// Decides whether a request may call a route of some Access; set on the router when the API
// requires tokens. Implementations are thread-safe.
class AccessGuard {
public:
    virtual ~AccessGuard() = default;
    // Throws HttpError (401, 403, 429) unless the request may go on; fills `request.caller`.
    virtual void check(Access access, Request& request) const = 0;
};

// Decides whether this process answers a route at all, before access is checked: a daemon that
// follows another sends clients to the leader (docs/high-availability.md). Implementations are
// thread-safe.
class RouteGate {
public:
    virtual ~RouteGate() = default;
    // Throws HttpError (a 307 to the leader, or 503) unless this process answers the request.
    virtual void check(const struct Route& route, const Request& request) const = 0;
};

// What a route's body must be. A JSON route refuses another declared Content-Type with 415.
enum class Body { none, json, any };

// One line of the route table.
struct Route {
    Method method;
    std::string pattern; // "/api/nodes/{nodeId}": literal segments and {named} segments
    std::variant<Handler, AsyncHandler> handler;
    std::string summary; // one line for the API reference
    Body body = Body::none;
    Access access = Access::administer; // the safe default: a route that forgot to say is admin-only
};

// A long poll parks its connection until there is news (an agent's commands): such waits are
// counted apart from other clients, so that a fleet's agents cannot fill --max-connections and
// lock the dashboard and CI out, and are bounded on their own (--max-long-polls).
enum class RouteKind { answer, long_poll };

// The route table and the one place where requests meet handlers and errors become answers.
//
// `handle` parses the target, picks the route whose pattern matches (literal segments beat
// {named} ones), answers 404 for an unknown path and 405 with `Allow` for a known path with
// another method, checks the Content-Type of JSON routes, calls the handler, and turns an
// HttpError or any other exception into a JSON error answer, logged once.
//
// Threading: build the table before serving; `dispatch` and `handle` are const and safe from
// many threads.
class ClientErrorThrottle;

class Router {
public:
    Router();

    void add(Route route, RouteKind kind = RouteKind::answer);

    // Routes a request; the answer goes to `reply`, now or (asynchronous routes) later.
    void dispatch(Request& request, std::shared_ptr<Reply> reply) const;

    // Routes a request and returns the answer; for requests whose route answers at once (an
    // asynchronous route that has not answered yet gives a 500).
    Response handle(Request& request) const;

    const std::vector<Route>& routes() const { return routes_; }

    // Set before serving; not owned.
    void set_observer(RequestObserver* observer) { observer_ = observer; }
    // Set before serving; not owned. Without a guard every route is open.
    void set_access_guard(const AccessGuard* guard) { guard_ = guard; }
    // Set before serving; not owned. Without a gate every route is answered here.
    void set_route_gate(const RouteGate* gate) { gate_ = gate; }
    // Long polls waiting at once at most; more are answered 503 with Retry-After. Set before serving.
    void set_max_long_polls(std::size_t limit) { max_long_polls_ = limit; }
    // Long polls waiting now: the transport does not count their connections against its limit.
    std::size_t long_polls_waiting() const { return long_polls_->load(std::memory_order_relaxed); }
    // The transport tells the router of requests it refused itself.
    void refused(std::string_view target, int status) const;
    // How many client errors (4xx) this router and its transport log: a throttle per daemon.
    ClientErrorThrottle& client_errors() const { return *client_errors_; }

private:
    // The route for the request, with path and query decoded; throws HttpError.
    const Route& resolve(Request& request) const;

    struct CompiledRoute {
        std::vector<std::string> segments; // "{name}" marks a parameter
        std::size_t literal_count = 0;
    };

    std::vector<Route> routes_;
    std::vector<CompiledRoute> compiled_;
    std::vector<bool> long_poll_;
    std::size_t max_long_polls_ = static_cast<std::size_t>(-1);
    // Shared with the replies that give a wait back when they answer.
    std::shared_ptr<std::atomic<std::size_t>> long_polls_ = std::make_shared<std::atomic<std::size_t>>(0);
    RequestObserver* observer_ = nullptr;
    const AccessGuard* guard_ = nullptr;
    const RouteGate* gate_ = nullptr;
    std::shared_ptr<ClientErrorThrottle> client_errors_;
};

} // namespace macvmorx::http
