#include "macvmorx/api/routes.hpp"

#include "macvmorx/api/handlers.hpp"

namespace macvmorx::api {

http::Router build_router(ApiContext& context) {
    using http::Body;
    using http::Method;
    using Fn = http::Response (*)(const http::Request&, ApiContext&);
    const auto bind = [&context](Fn handler) {
        return [handler, &context](const http::Request& request) { return handler(request, context); };
    };

    http::Router router;
    // method, pattern, handler, summary, body
    router.add({Method::post, "/api/heartbeat", bind(handle_heartbeat), "An agent reports its Mac and VMs", Body::json});
    router.add({Method::get, "/api/nodes", bind(handle_list_nodes), "Every node, sorted by nodeId"});
    router.add({Method::get, "/api/nodes/{nodeId}", bind(handle_get_node), "One node"});
    router.add({Method::post, "/api/schedule-vm", bind(handle_schedule_vm), "Place a VM of an image on a node", Body::json});
    router.add({Method::get, "/", bind(handle_dashboard), "The dashboard"});
    router.add({Method::get, "/assets/{file}", bind(handle_web_asset), "The dashboard's scripts and styles"});
    return router;
}

} // namespace macvmorx::api
