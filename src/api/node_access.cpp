#include "node_access.hpp"

#include "macvmorx/auth/token.hpp"
#include "macvmorx/http/http_error.hpp"

#include <algorithm>

namespace macvmorx::api {

void require_node_access(const http::Request& request, std::string_view node_id) {
    if (request.caller && !request.caller->may_act_for(node_id)) {
        throw http::HttpError(403, "forbidden",
                              "the token '" + request.caller->name + "' may not act for node '" + std::string{node_id} + "'");
    }
    if (const auto& names = request.client_certificate_names) {
        // Mutual TLS: the agent's certificate must name the node, by common name or DNS name.
        if (names->empty()) {
            throw http::HttpError(403, "client certificate required",
                                  "agents must show a client certificate from the server's client CA");
        }
        if (std::find(names->begin(), names->end(), node_id) == names->end()) {
            throw http::HttpError(403, "forbidden", "the client certificate does not name node '" + std::string{node_id} + "'");
        }
    }
}

bool may_act_for_node(const http::Request& request, std::string_view node_id) {
    try {
        require_node_access(request, node_id);
        return true;
    } catch (const http::HttpError&) {
        return false;
    }
}

} // namespace macvmorx::api
