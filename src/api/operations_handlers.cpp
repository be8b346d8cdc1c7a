#include "macvmorx/api/handlers.hpp"
#include "macvmorx/actions/workflow_jobs.hpp"
#include "macvmorx/app/version.hpp"
#include "macvmorx/auth/token.hpp"
#include "macvmorx/http/http_error.hpp"
#include "macvmorx/json/json_writer.hpp"
#include "macvmorx/metrics/http_metrics.hpp"
#include "macvmorx/metrics/placement_metrics.hpp"
#include "macvmorx/metrics/prometheus_writer.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"
#include "macvmorx/storage/durable_store.hpp"

namespace macvmorx::api {
namespace {

constexpr double bytes_per_gb = 1024.0 * 1024.0 * 1024.0;

double seconds_since_epoch(TimePoint time) { return std::chrono::duration<double>(time.time_since_epoch()).count(); }

void write_fleet(metrics::PrometheusWriter& out, const orchestrator::FleetSummary& summary) {
    out.family("macvmorx_nodes", "Nodes by state (draining: drained by an operator or reporting draining, "
                                 "maintenance or degraded).",
               "gauge");
    out.sample("macvmorx_nodes", {{"state", "online"}}, std::uint64_t{summary.online});
    out.sample("macvmorx_nodes", {{"state", "offline"}}, std::uint64_t{summary.offline});
    out.sample("macvmorx_nodes", {{"state", "draining"}}, std::uint64_t{summary.drained});
    out.family("macvmorx_nodes_accepting_vms", "Online nodes that take new VMs.", "gauge");
    out.sample("macvmorx_nodes_accepting_vms", {}, std::uint64_t{summary.accepting_vms});
    out.family("macvmorx_vm_slots", "VM slots of the nodes that take new VMs: total, free, and reserved by "
                                    "placements not yet running.",
               "gauge");
    out.sample("macvmorx_vm_slots", {{"kind", "total"}}, std::uint64_t{summary.capacity.total_slots});
    out.sample("macvmorx_vm_slots", {{"kind", "free"}}, std::uint64_t{summary.capacity.free_slots});
    out.sample("macvmorx_vm_slots", {{"kind", "reserved"}}, std::uint64_t{summary.capacity.reserved_slots});
    out.family("macvmorx_vms", "VM records by state.", "gauge");
    for (std::size_t state = 0; state < summary.vms.by_state.size(); ++state) {
        out.sample("macvmorx_vms", {{"state", lifecycle::to_string(static_cast<lifecycle::VmState>(state))}},
                   std::uint64_t{summary.vms.by_state[state]});
    }
    out.family("macvmorx_placement_queue_length", "VM requests waiting for a node.", "gauge");
    out.sample("macvmorx_placement_queue_length", {}, std::uint64_t{summary.vms.queued});
}

void write_nodes(metrics::PrometheusWriter& out, const std::vector<fleet::NodeSnapshot>& nodes) {
    struct Gauge {
        const char* name;
        const char* help;
        double (*value)(const fleet::NodeRecord&);
    };
    static constexpr Gauge gauges[] = {
        {"macvmorx_node_online", "1 if the node is online.", [](const fleet::NodeRecord& n) { return n.online ? 1.0 : 0.0; }},
        {"macvmorx_node_cpu_usage_ratio", "CPU in use, 0 to 1, as the node reports it.",
         [](const fleet::NodeRecord& n) { return n.report.cpu_usage_percent / 100.0; }},
        {"macvmorx_node_memory_used_bytes", "Memory in use.",
         [](const fleet::NodeRecord& n) { return n.report.memory_usage_gb * bytes_per_gb; }},
        {"macvmorx_node_memory_total_bytes", "Memory installed.",
         [](const fleet::NodeRecord& n) { return n.report.total_memory_gb * bytes_per_gb; }},
        {"macvmorx_node_disk_used_bytes", "Disk in use on the VM volume.",
         [](const fleet::NodeRecord& n) { return n.report.disk_usage_gb * bytes_per_gb; }},
        {"macvmorx_node_disk_total_bytes", "Size of the VM volume.",
         [](const fleet::NodeRecord& n) { return n.report.total_disk_gb * bytes_per_gb; }},
        {"macvmorx_node_vms", "VMs the node reports.",
         [](const fleet::NodeRecord& n) { return static_cast<double>(n.report.running_vms()); }},
        {"macvmorx_node_last_seen_timestamp_seconds", "When the node's last heartbeat arrived.",
         [](const fleet::NodeRecord& n) { return seconds_since_epoch(n.last_seen); }},
    };
    for (const auto& gauge : gauges) {
        out.family(gauge.name, gauge.help, "gauge");
        for (const auto& node : nodes) out.sample(gauge.name, {{"node", node->node_id()}}, gauge.value(*node));
    }
}

} // namespace

void answer_when_durable(ApiContext& context, const Reply& reply, http::Response response) {
    if (context.durable == nullptr) return reply->send(std::move(response));
    context.durable->when_durable(context.durable->ticket(), [reply, response = std::move(response)](bool durable) mutable {
        if (durable) return reply->send(std::move(response));
        reply->send(http::error_response(http::ServiceUnavailable(
            "not stored", "the change is made but could not be written to disk; it is retried, and the "
                          "daemon's log says why")));
    });
}

http::Response handle_metrics(const http::Request&, ApiContext& context) {
    http::Response response;
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.set_header("Cache-Control", "no-store");
    const auto nodes = context.orchestrator.nodes();
    response.body.reserve(8192 + nodes.size() * 8 * 80);
    metrics::PrometheusWriter out{response.body};
    out.family("macvmorx_build_info", "The running build.", "gauge");
    out.sample("macvmorx_build_info", {{"version", version()}}, std::uint64_t{1});
    out.family("macvmorx_start_time_seconds", "When the daemon started, in seconds since the Unix epoch.", "gauge");
    out.sample("macvmorx_start_time_seconds", {}, seconds_since_epoch(context.started_at));
    write_fleet(out, context.orchestrator.summary());
    if (context.placement_metrics != nullptr) context.placement_metrics->write(out);
    if (context.http_metrics != nullptr) {
        context.http_metrics->write_heartbeats(out);
        context.http_metrics->write(out);
    }
    if (context.workflow_jobs != nullptr) context.workflow_jobs->write_metrics(out);
    write_nodes(out, nodes);
    return response;
}

http::Response handle_healthz(const http::Request&, ApiContext&) {
    return http::Response::json(200, R"({"status":"ok"})");
}

http::Response handle_readyz(const http::Request&, ApiContext& context) {
    if (context.ready != nullptr && !context.ready->load()) {
        throw http::ServiceUnavailable("not ready", "the daemon is starting or stopping");
    }
    return http::Response::json(200, R"({"status":"ready"})");
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
