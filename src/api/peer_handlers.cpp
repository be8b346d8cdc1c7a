#include "node_access.hpp"

#include "macvmorx/api/handlers.hpp"
#include "macvmorx/api/peer_grants.hpp"
#include "macvmorx/base/invalid_input.hpp"
#include "macvmorx/base/timestamp.hpp"
#include "macvmorx/fleet/image_peers.hpp"
#include "macvmorx/http/http_error.hpp"
#include "macvmorx/json/json_writer.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"
#include "macvmorx/protocol/image_source.hpp"

#include <cstdint>

namespace macvmorx::api {
namespace {

const PeerGrants& grants_of(const ApiContext& context) {
    if (context.peer_grants == nullptr) throw http::HttpError(503, "peers unavailable", "this daemon issues no peer grants");
    return *context.peer_grants;
}

fleet::ImageFetches& fetches_of(const ApiContext& context) {
    if (context.image_fetches == nullptr) throw http::HttpError(503, "peers unavailable", "this daemon plans no fetches");
    return *context.image_fetches;
}

} // namespace

http::Response handle_image_peers(const http::Request& request, ApiContext& context) {
    const auto node_id = request.path_param("nodeId");
    require_node_access(request, node_id);
    const auto image = request.query_param("imageName");
    if (!image || image->empty()) throw MalformedInput("the query names the image: ?imageName=gs://BUCKET/PATH", "imageName");
    if (!protocol::image_source(*image).in_bucket()) {
        throw InvalidValue("peers serve images from a storage bucket (gs://, s3://); an OCI image is pulled from its registry",
                           "imageName");
    }
    const auto requester = context.orchestrator.node(node_id);
    if (!requester) {
        throw http::NotFound("node not found", "node '" + std::string(node_id) + "' has not sent a heartbeat");
    }
    const auto& grants = grants_of(context);
    const auto now = context.orchestrator.clock().now();
    const auto plan = fetches_of(context).plan(context.orchestrator.nodes(), *requester, std::string{*image}, now);

    http::Response response;
    JsonWriter json{response.body};
    json.begin_object().field("imageName", *image);
    json.key("peers").begin_array();
    for (const auto& peer : plan.peers) {
        json.begin_object().field("nodeId", peer->node_id()).field("url", peer->report.peer_url).end_object();
    }
    json.end_array();
    if (plan.wait) {
        const auto retry_after = std::chrono::duration_cast<std::chrono::seconds>(plan.retry_after).count();
        json.field("wait", true)
            .field("retryAfterSeconds", static_cast<std::int64_t>(retry_after))
            .field("reason", plan.reason);
    } else if (!plan.peers.empty()) {
        json.field("grant", grants.grant(node_id, *image, now)).field("grantExpiresAt", format_rfc3339(now + PeerGrants::lifetime));
    }
    json.end_object();
    return response;
}

http::Response handle_peer_grant_key(const http::Request&, ApiContext& context) {
    const auto& grants = grants_of(context);
    http::Response response;
    JsonWriter json{response.body};
    json.begin_object()
        .field("keyId", grants.key_id())
        .field("algorithm", "RS256")
        .field("publicKeyPem", grants.public_key_pem())
        .end_object();
    return response;
}

} // namespace macvmorx::api
