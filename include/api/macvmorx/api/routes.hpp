#pragma once

#include "macvmorx/api/api_context.hpp"
#include "macvmorx/http/router.hpp"

namespace macvmorx::api {

// The route table of the whole daemon: every path it serves, in one place.
http::Router build_router(ApiContext& context);

} // namespace macvmorx::api
