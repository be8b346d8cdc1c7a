#pragma once

#include "macvmorx/http/message.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace macvmorx::http {

using Handler = std::function<Response(const Request&)>;

// What a route's body must be. A JSON route refuses another declared Content-Type with 415.
enum class Body { none, json, any };

// One line of the route table.
struct Route {
    Method method;
    std::string pattern; // "/api/nodes/{nodeId}": literal segments and {named} segments
    Handler handler;
    std::string summary; // one line for the API reference
    Body body = Body::none;
};

// The route table and the one place where requests meet handlers and errors become answers.
//
// `handle` parses the target, picks the route whose pattern matches (literal segments beat
// {named} ones), answers 404 for an unknown path and 405 with `Allow` for a known path with
// another method, checks the Content-Type of JSON routes, calls the handler, and turns an
// HttpError or any other exception into a JSON error answer, logged once.
//
// Threading: build the table before serving; `handle` is const and safe from many threads.
class Router {
public:
    void add(Route route);

    Response handle(Request& request) const;

    const std::vector<Route>& routes() const { return routes_; }

private:
    struct CompiledRoute {
        std::vector<std::string> segments; // "{name}" marks a parameter
        std::size_t literal_count = 0;
    };

    std::vector<Route> routes_;
    std::vector<CompiledRoute> compiled_;
};

} // namespace macvmorx::http
