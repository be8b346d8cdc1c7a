#include "node_access.hpp"

#include "macvmorx/api/handlers.hpp"
#include "macvmorx/api/listing.hpp"
#include "macvmorx/api/vm_json.hpp"
#include "macvmorx/auth/token.hpp"
#include "macvmorx/base/invalid_input.hpp"
#include "macvmorx/http/http_error.hpp"
#include "macvmorx/json/json_writer.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"
#include "macvmorx/protocol/vm_event_json.hpp"

#include <algorithm>
#include <charconv>
#include <functional>
#include <unordered_map>

namespace macvmorx::api {
namespace {

using lifecycle::VmRecord;
using protocol::VmState;

// The VM as its node's latest heartbeat reports it, when it does.
class ReportedVms {
public:
    explicit ReportedVms(const orchestrator::Orchestrator& orchestrator) : orchestrator_{orchestrator} {}

    const protocol::VmReport* find(const VmRecord& vm) {
        if (vm.node_id.empty() || !vm.seen_on_host || protocol::is_final(vm.state)) return nullptr;
        auto [it, inserted] = nodes_.try_emplace(vm.node_id);
        if (inserted) it->second = orchestrator_.node(vm.node_id);
        if (!it->second) return nullptr;
        for (const auto& report : it->second->report.vms) {
            if (report.vm_id == vm.host_vm_id) return &report;
        }
        return nullptr;
    }

private:
    const orchestrator::Orchestrator& orchestrator_;
    std::unordered_map<std::string, fleet::NodeSnapshot> nodes_;
};

http::Response vm_answer(int status, const VmRecord& vm, ApiContext& context) {
    http::Response response;
    response.status = status;
    ReportedVms reported{context.orchestrator};
    const auto pending = vm.state == VmState::pending ? context.orchestrator.pending_reason(vm.vm_id) : std::nullopt;
    JsonWriter json{response.body};
    write_vm(json, vm, reported.find(vm), pending ? &*pending : nullptr);
    return response;
}

// A page's place in the VM listing: the last VM it gave, "<createdAt ticks>:<vmId>".
struct VmCursor {
    TimePoint created_at;
    std::string vm_id;
};

std::string vm_cursor(const VmRecord& vm) {
    return std::to_string(vm.created_at.time_since_epoch().count()) + ':' + vm.vm_id;
}

VmCursor parse_vm_cursor(std::string_view text) {
    const auto colon = text.find(':');
    std::int64_t ticks = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + std::min(colon, text.size()), ticks);
    if (colon == std::string_view::npos || error != std::errc{} || end != text.data() + colon) {
        throw InvalidValue("after must be a cursor the listing gave (in its Link header), not '" + std::string(text) + "'",
                           "after");
    }
    return {TimePoint{Duration{ticks}}, std::string(text.substr(colon + 1))};
}

http::NotFound unknown_vm(std::string_view vm_id) {
    return http::NotFound("vm not found", "no VM with id '" + std::string(vm_id) + "'");
}

// The answer to a placement request: the same for the first request and for a repeat with the
// same vmId, so that a client may retry safely.
http::Response placement_answer(const VmRecord& vm, const orchestrator::Orchestrator& orchestrator) {
    const bool pending = vm.state == VmState::pending;
    http::Response response;
    response.status = pending ? 202 : 200;
    JsonWriter json{response.body};
    json.begin_object().field("message", pending ? "VM queued until a node fits" : "VM scheduled successfully");
    json.key("nodeId");
    vm.node_id.empty() ? json.null() : json.value(vm.node_id);
    json.field("vmId", vm.vm_id)
        .field("imageName", vm.spec.image_name)
        .field("imageCached", vm.image_cached)
        .field("state", protocol::to_string(vm.state));
    if (pending) {
        if (const auto reason = orchestrator.pending_reason(vm.vm_id)) {
            json.key("pendingReason");
            write_pending_reason(json, *reason);
        }
    }
    json.end_object();
    if (!pending) response.set_header("Location", "/api/vms/" + vm.vm_id);
    return response;
}

} // namespace

void handle_schedule_vm(const http::Request& request, ApiContext& context, Reply reply) {
    auto vm_request = parse_vm_request(request.body);
    // A request names its tenant, or is its token's (docs/scheduling.md).
    if (vm_request.spec.tenant.empty() && request.caller) vm_request.spec.tenant = request.caller->name;
    const std::string image_name = vm_request.spec.image_name;
    const lifecycle::VmSpec asked = vm_request.spec;
    const auto result = context.orchestrator.request_vm(vm_request.vm_id, std::move(vm_request.spec), vm_request.wait);
    switch (result.outcome) {
    case lifecycle::RequestOutcome::placed:
    case lifecycle::RequestOutcome::queued:
    case lifecycle::RequestOutcome::existing:
        // Answered once the record is on disk: an acknowledged placement survives a crash.
        return answer_when_durable(context, reply, placement_answer(*result.record, context.orchestrator));
    case lifecycle::RequestOutcome::conflict:
        throw http::Conflict("vm id in use", "vmId '" + result.record->vm_id + "' already names a VM of image '" +
                                                 result.record->spec.image_name + "'");
    case lifecycle::RequestOutcome::no_capacity:
        break;
    case lifecycle::RequestOutcome::queue_full:
        throw http::ServiceUnavailable("queue full", "no node has a free slot for a VM of image '" + image_name +
                                                         "', and the queue of waiting requests is at its limit")
            .with_member("imageName", image_name)
            .with_header("Retry-After", "30");
    }
    const auto reason = context.orchestrator.explain(asked);
    throw http::ServiceUnavailable("no suitable node", "no node can take a VM of image '" + image_name +
                                                           "' now: " + describe(reason) +
                                                           " (ask with \"wait\": true to queue the request)")
        .with_member("imageName", image_name)
        .with_json_member("pendingReason", pending_reason_json(reason))
        .with_header("Retry-After", "5");
}

// The VMs a filter keeps, oldest first (by creation, then id); as a page (?limit=&after=) or
// as what changed (?since=), with an ETag and gzip (listing.hpp).
http::Response handle_list_vms(const http::Request& request, ApiContext& context) {
    const auto query = parse_listing_query(request);
    lifecycle::VmFilter filter;
    if (const auto state = request.query_param("state")) filter.state = parse_state_filter(*state);
    if (const auto node_id = request.query_param("nodeId")) filter.node_id = *node_id;
    if (const auto image = request.query_param("imageName")) filter.image_name = *image;
    const auto vms = context.orchestrator.vms(filter);
    ReportedVms reported{context.orchestrator};
    // Why pending VMs wait: the queue's view gives every reason in one look at the fleet.
    std::unordered_map<std::string, lifecycle::PendingReason> pending;
    if (std::any_of(vms.begin(), vms.end(), [](const VmRecord& vm) { return vm.state == VmState::pending; })) {
        for (auto& queued : context.orchestrator.queue_view()) pending.emplace(queued.vm.vm_id, std::move(queued.reason));
    }
    const auto pending_of = [&pending](const VmRecord& vm) {
        const auto reason = pending.find(vm.vm_id);
        return reason == pending.end() ? nullptr : &reason->second;
    };
    const auto write_one = [&](JsonWriter& json, std::size_t i) {
        write_vm(json, vms[i], reported.find(vms[i]), pending_of(vms[i]), VmDetail::listed);
    };
    http::Response response;
    JsonWriter json{response.body};
    if (query.since) {
        std::vector<ItemDigest> digests;
        digests.reserve(vms.size());
        std::string scratch;
        for (const auto& vm : vms) {
            // A running VM's runtime grows with every heartbeat: it is no change to resend for.
            const auto* report = reported.find(vm);
            protocol::VmReport still;
            if (report != nullptr) still = {report->vm_id, report->image_name, 0, report->vm_hostname, report->vm_ip_address};
            scratch.clear();
            JsonWriter item{scratch};
            write_vm(item, vm, report != nullptr ? &still : nullptr, pending_of(vm), VmDetail::listed);
            digests.push_back({vm.vm_id, std::hash<std::string_view>{}(scratch)});
        }
        const auto key = "vms?state=" + std::string(request.query_param("state").value_or("")) +
                         "&nodeId=" + filter.node_id + "&imageName=" + filter.image_name;
        const auto delta = context.listing_changes.tracker(key)->observe(digests, *query.since);
        write_delta(json, delta, "vms", vms.size(), write_one);
    } else {
        std::size_t first = 0;
        if (query.after) {
            const auto cursor = parse_vm_cursor(*query.after);
            first = static_cast<std::size_t>(
                std::upper_bound(vms.begin(), vms.end(), cursor,
                                 [](const VmCursor& at, const VmRecord& vm) {
                                     return at.created_at != vm.created_at ? at.created_at < vm.created_at : at.vm_id < vm.vm_id;
                                 }) -
                vms.begin());
        }
        write_page(json, request, response, query, vms.size(), first, 512, write_one,
                   [&vms](std::size_t i) { return vm_cursor(vms[i]); });
    }
    finish_listing(request, response);
    return response;
}

http::Response handle_get_vm(const http::Request& request, ApiContext& context) {
    const auto vm = context.orchestrator.vm(request.path_param("vmId"));
    if (!vm) throw unknown_vm(request.path_param("vmId"));
    return vm_answer(200, *vm, context);
}

void handle_delete_vm(const http::Request& request, ApiContext& context, Reply reply) {
    const auto vm = context.orchestrator.delete_vm(request.path_param("vmId"));
    if (!vm) throw unknown_vm(request.path_param("vmId"));
    answer_when_durable(context, reply, vm_answer(200, *vm, context));
}

http::Response handle_vm_event(const http::Request& request, ApiContext& context) {
    const auto vm_id = request.path_param("vmId");
    const auto event = protocol::parse_vm_event(request.body);
    // A bound agent (by token or by certificate) reports only for VMs on its own nodes: checked in
    // the step that applies the event, where the VM's node cannot change meanwhile.
    std::string refused_node;
    const auto may_report = [&request, &refused_node](std::string_view node_id) {
        if (may_act_for_node(request, node_id)) return true;
        refused_node = node_id;
        return false;
    };
    switch (context.orchestrator.record_vm_event(vm_id, event, may_report)) {
    case lifecycle::EventOutcome::unknown_vm:
        throw unknown_vm(vm_id);
    case lifecycle::EventOutcome::not_the_callers:
        require_node_access(request, refused_node); // throws the 403 that says why
        throw http::HttpError(403, "forbidden", "the caller does not speak for the VM's node");
    case lifecycle::EventOutcome::not_allowed: {
        const auto vm = context.orchestrator.vm(vm_id);
        throw http::Conflict("event not allowed", "a VM in state '" +
                                                      std::string(vm ? protocol::to_string(vm->state) : "deleted") +
                                                      "' cannot become '" +
                                                      std::string(protocol::to_string(event.state)) + "'");
    }
    case lifecycle::EventOutcome::applied:
        break;
    }
    const auto vm = context.orchestrator.vm(vm_id);
    if (!vm) throw unknown_vm(vm_id);
    return vm_answer(200, *vm, context);
}

// Each waiting request as a VM record with its place in the order, its tenant's share and why
// it waits (docs/scheduling.md).
http::Response handle_queue(const http::Request& request, ApiContext& context) {
    const auto queue = context.orchestrator.queue_view();
    http::Response response;
    response.body.reserve(64 + queue.size() * 800);
    JsonWriter json{response.body};
    json.begin_array();
    for (const auto& queued : queue) {
        json.begin_object();
        write_vm_members(json, queued.vm, nullptr, &queued.reason, VmDetail::listed);
        json.field("position", queued.position).field("effectivePriority", queued.effective_priority);
        json.key("tenantShare").begin_object().field("inUse", queued.tenant_in_use).field("weight", queued.tenant_policy.weight);
        json.key("maxVms");
        queued.tenant_policy.max_vms ? json.value(*queued.tenant_policy.max_vms) : json.null();
        json.end_object().end_object();
    }
    json.end_array();
    finish_listing(request, response);
    return response;
}

} // namespace macvmorx::api
