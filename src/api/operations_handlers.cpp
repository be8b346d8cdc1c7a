#include "macvmorx/actions/workflow_jobs.hpp"
#include "macvmorx/api/handlers.hpp"
#include "macvmorx/api/leadership.hpp"
#include "macvmorx/auth/token.hpp"
#include "macvmorx/http/http_error.hpp"
#include "macvmorx/json/json_writer.hpp"
#include "macvmorx/metrics/fleet_metrics.hpp"
#include "macvmorx/metrics/image_metrics.hpp"
#include "macvmorx/metrics/github_metrics.hpp"
#include "macvmorx/metrics/http_metrics.hpp"
#include "macvmorx/metrics/leadership_metrics.hpp"
#include "macvmorx/metrics/placement_metrics.hpp"
#include "macvmorx/metrics/scrape.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"
#include "macvmorx/protocol/command_json.hpp"
#include "macvmorx/storage/durable_store.hpp"

namespace macvmorx::api {
void answer_when_durable(ApiContext& context, const Reply& reply, http::Response response) {
    if (context.durable == nullptr) return reply->send(std::move(response));
    context.durable->when_durable(context.durable->ticket(), [reply, response = std::move(response)](bool durable) mutable {
        if (durable) return reply->send(std::move(response));
        reply->send(http::error_response(
            http::ServiceUnavailable("not stored", "the change is made but could not be written to the database; "
                                                   "it is retried, and the daemon's log says why")
                .with_header("Retry-After", "2")));
    });
}

void send_commands_when_durable(ApiContext& context, const Reply& reply, std::vector<protocol::Command> commands,
                                std::string_view message) {
    const auto send = [reply, message](const std::vector<protocol::Command>& sent) {
        http::Response response;
        JsonWriter json{response.body};
        json.begin_object();
        if (!message.empty()) json.field("message", message);
        json.key("commands");
        protocol::write_commands(json, sent);
        json.end_object();
        reply->send(std::move(response));
    };
    if (context.durable == nullptr || commands.empty()) return send(commands);
    context.durable->when_durable(context.durable->ticket(),
                                  [send, commands = std::move(commands)](bool durable) {
                                      send(durable ? commands : std::vector<protocol::Command>{});
                                  });
}

http::Response handle_metrics(const http::Request&, ApiContext& context) {
    http::Response response;
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.set_header("Cache-Control", "no-store");
    metrics::Scrape scrape;
    metrics::collect_build_info(scrape, context.started_at);
    metrics::collect_fleet(scrape, context.orchestrator.summary());
    metrics::collect_images(scrape, context.orchestrator.images(), context.orchestrator.image_distribution().pull_counts());
    metrics::collect_pending(scrape, context.orchestrator.queue_view());
    if (context.placement_metrics != nullptr) context.placement_metrics->collect(scrape);
    if (context.leadership_metrics != nullptr) context.leadership_metrics->collect(scrape);
    if (context.http_metrics != nullptr) {
        context.http_metrics->collect_heartbeats(scrape);
        context.http_metrics->collect(scrape);
    }
    // A follower, or a leader still loading, has no GitHub jobs yet (set while it is promoted).
    const bool leading = context.leadership == nullptr || context.leadership->role() == Role::leader;
    if (leading && context.workflow_jobs != nullptr) {
        metrics::collect_github(scrape, *context.workflow_jobs);
        if (context.job_wait_metrics != nullptr) context.job_wait_metrics->collect(scrape);
    }
    metrics::collect_nodes(scrape, context.orchestrator.nodes());
    response.body = scrape.text();
    return response;
}

http::Response handle_healthz(const http::Request&, ApiContext&) {
    return http::Response::json(200, R"({"status":"ok"})");
}

http::Response handle_readyz(const http::Request&, ApiContext& context) {
    if (context.ready != nullptr && !context.ready->load()) {
        throw http::ServiceUnavailable("not ready", "the daemon is starting or stopping");
    }
    // One daemon alone leads; of several, only the leader is ready, so that a load balancer
    // sends it every request (docs/high-availability.md).
    const Role role = context.leadership != nullptr ? context.leadership->role() : Role::leader;
    http::Response response;
    JsonWriter json{response.body};
    json.begin_object().field("status", role == Role::leader ? "ready" : "not leading").field("role", to_string(role));
    if (context.leadership != nullptr) {
        const auto leader = context.leadership->leader_url();
        if (leader) {
            json.field("leader", *leader);
        } else {
            json.key("leader").null();
        }
        json.field("daemon", context.leadership->self_url())
            .field("epoch", static_cast<std::uint64_t>(context.leadership->epoch()));
    }
    json.end_object();
    if (role != Role::leader) {
        response.status = 503;
        response.set_header("Retry-After", "1");
    }
    return response;
}

http::Response handle_whoami(const http::Request& request, ApiContext&) {
    http::Response response;
    JsonWriter json{response.body};
    json.begin_object();
    if (!request.caller) {
        // No tokens file: anyone may do anything.
        json.field("authRequired", false).key("name").null().field("role", "admin");
    } else {
        json.field("authRequired", true)
            .field("name", request.caller->name)
            .field("role", auth::to_string(request.caller->role))
            .key("nodes")
            .begin_array();
        for (const auto& pattern : request.caller->node_patterns) json.value(pattern);
        json.end_array();
    }
    json.end_object();
    return response;
}

} // namespace macvmorx::api
