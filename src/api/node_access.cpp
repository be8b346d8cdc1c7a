#include "node_access.hpp"

#include "macvmorx/auth/token.hpp"
#include "macvmorx/http/http_error.hpp"

namespace macvmorx::api {

void require_node_access(const http::Request& request, std::string_view node_id) {
    if (!request.caller || request.caller->may_act_for(node_id)) return;
    throw http::HttpError(403, "forbidden",
                          "the token '" + request.caller->name + "' may not act for node '" + std::string{node_id} + "'");
}

} // namespace macvmorx::api
