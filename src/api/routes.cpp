#include "macvmorx/api/routes.hpp"

#include "macvmorx/api/handlers.hpp"

namespace macvmorx::api {

http::Router build_router(ApiContext& context) {
    using http::Access;
    using http::Body;
    using http::Method;
    using Fn = http::Response (*)(const http::Request&, ApiContext&);
    using AsyncFn = void (*)(const http::Request&, ApiContext&, std::shared_ptr<http::Reply>);
    const auto bind = [&context](Fn handler) -> http::Handler {
        return [handler, &context](const http::Request& request) { return handler(request, context); };
    };
    const auto bind_async = [&context](AsyncFn handler) -> http::AsyncHandler {
        return [handler, &context](const http::Request& request, std::shared_ptr<http::Reply> reply) {
            handler(request, context, std::move(reply));
        };
    };

    http::Router router;
    // method, pattern, handler, summary, body, who may call it (docs/security.md)
    // Agents
    router.add({Method::post, "/api/heartbeat", bind_async(handle_heartbeat), "An agent reports its Mac and VMs; the answer carries its commands", Body::json, Access::report});
    router.add({Method::get, "/api/nodes/{nodeId}/commands", bind_async(handle_poll_commands), "An agent's pending commands (long poll with ?wait=25s)", Body::none, Access::report}, http::RouteKind::long_poll);
    router.add({Method::post, "/api/nodes/{nodeId}/commands/{commandId}/ack", bind(handle_ack_command), "An agent acknowledges a command", Body::none, Access::report});
    router.add({Method::post, "/api/vms/{vmId}/events", bind(handle_vm_event), "An agent reports a VM's progress or failure", Body::json, Access::report});
    router.add({Method::get, "/api/nodes/{nodeId}/image-peers", bind(handle_image_peers), "The Macs of its lab a Mac may fetch a bucket image from (?imageName=), with a grant", Body::none, Access::report});
    router.add({Method::get, "/api/peer-grants/key", bind(handle_peer_grant_key), "The public key that peer grants are checked with", Body::none, Access::report});
    // Nodes
    router.add({Method::get, "/api/fleet", bind(handle_fleet_summary), "Fleet totals: nodes, slots, VMs by state, queue", Body::none, Access::read});
    router.add({Method::get, "/api/fleet/history", bind(handle_fleet_history), "The last 6 hours every 30 s: nodes, slots in use, queue, heartbeat rate, VM waits", Body::none, Access::read});
    router.add({Method::get, "/api/nodes", bind(handle_list_nodes), "Every node by nodeId (?since= for what changed, ?limit=&after= for a page)", Body::none, Access::read});
    router.add({Method::get, "/api/nodes/{nodeId}", bind(handle_get_node), "One node", Body::none, Access::read});
    router.add({Method::post, "/api/nodes/{nodeId}/drain", bind_async(handle_drain_node), "No new VMs on the node; its VMs run to the end", Body::none, Access::administer});
    router.add({Method::post, "/api/nodes/{nodeId}/undrain", bind_async(handle_undrain_node), "The node takes new VMs again", Body::none, Access::administer});
    router.add({Method::put, "/api/nodes/{nodeId}/labels", bind_async(handle_set_node_labels), "Set the labels an operator gives a node", Body::json, Access::administer});
    router.add({Method::del, "/api/nodes/{nodeId}", bind_async(handle_forget_node), "Forget an offline node", Body::none, Access::administer});
    // VMs
    router.add({Method::post, "/api/schedule-vm", bind_async(handle_schedule_vm), "Place a VM of an image on a node", Body::json, Access::operate});
    router.add({Method::get, "/api/vms", bind(handle_list_vms), "VM records (?state=, ?nodeId=, ?imageName=; ?since=, ?limit=&after=)", Body::none, Access::read});
    router.add({Method::get, "/api/vms/{vmId}", bind(handle_get_vm), "One VM record", Body::none, Access::read});
    router.add({Method::del, "/api/vms/{vmId}", bind_async(handle_delete_vm), "The job is done: delete the VM", Body::none, Access::operate});
    router.add({Method::get, "/api/queue", bind(handle_queue), "Requests waiting for a node, in placement order", Body::none, Access::read});
    // Images
    router.add({Method::get, "/api/images", bind(handle_list_images), "Images: demand, target and actual holders, pulls, cached placements", Body::none, Access::read});
    router.add({Method::put, "/api/images/{imageName}", bind_async(handle_pin_image), "Keep an image on at least minHosts hosts (the name percent-encoded: / as %2F)", Body::json, Access::administer});
    // GitHub Actions
    router.add({Method::post, "/webhooks/github", bind_async(handle_github_webhook), "GitHub's webhook deliveries (workflow_job), signed with the webhook secret", Body::json, Access::open});
    router.add({Method::get, "/api/jobs", bind(handle_list_jobs), "GitHub Actions jobs (?state=, ?repository=, ?pool=; ?since=, ?limit=&after=)", Body::none, Access::read});
    router.add({Method::get, "/api/jobs/{jobId}", bind(handle_get_job), "One GitHub Actions job, with the time of each step", Body::none, Access::read});
    // Operations
    router.add({Method::get, "/metrics", bind(handle_metrics), "Prometheus metrics", Body::none, Access::read});
    router.add({Method::get, "/api/whoami", bind(handle_whoami), "The caller's token: name and role (admin when the API is open)", Body::none, Access::authenticated});
    router.add({Method::get, "/healthz", bind(handle_healthz), "The process is alive", Body::none, Access::open});
    router.add({Method::get, "/readyz", bind(handle_readyz), "Serving, with its records loaded, and leading (followers answer 503 naming the leader)", Body::none, Access::open});
    // Dashboard
    router.add({Method::get, "/", bind(handle_dashboard), "The dashboard", Body::none, Access::open});
    router.add({Method::get, "/assets/{file}", bind(handle_web_asset), "The dashboard's scripts and styles", Body::none, Access::open});
    return router;
}

} // namespace macvmorx::api
