#pragma once

#include "macvmorx/http/message.hpp"

#include <string_view>

namespace macvmorx::api {

// An agent token bound to some nodes may report for, and read the commands of, those nodes
// only: a token stolen from one Mac cannot speak for another. Under mutual TLS the client
// certificate must name the node too. Throws a 403 otherwise. Callers without a bound token
// (an open API, an admin, an unbound agent token) and without mutual TLS pass.
void require_node_access(const http::Request& request, std::string_view node_id);
// The same question, answered rather than thrown: where it must be asked under another lock.
bool may_act_for_node(const http::Request& request, std::string_view node_id);

} // namespace macvmorx::api
