#include "record_codec.hpp"

#include "macvmorx/base/timestamp.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace macvmorx::storage {
namespace {

using nlohmann::json;

json labels_json(const protocol::Labels& labels) {
    json out = json::array();
    for (const auto& label : labels) out.push_back({label.key, label.value});
    return out;
}

protocol::Labels labels_from(const json& value) {
    protocol::Labels labels;
    for (const auto& pair : value) labels.push_back({pair.at(0).get<std::string>(), pair.at(1).get<std::string>()});
    return labels;
}

std::int64_t millis(TimePoint time) { return to_unix_millis(time); }

} // namespace

std::string encode_vm(const lifecycle::VmRecord& vm) {
    json transitions = json::array();
    for (const auto& transition : vm.transitions) {
        transitions.push_back({{"state", protocol::to_string(transition.state)},
                               {"at", millis(transition.at)},
                               {"node", transition.node_id},
                               {"message", transition.message}});
    }
    json document{
        {"vmId", vm.vm_id},
        {"image", vm.spec.image_name},
        {"labels", labels_json(vm.spec.labels)},
        {"metadata", vm.spec.metadata_json},
        {"state", protocol::to_string(vm.state)},
        {"node", vm.node_id},
        {"imageCached", vm.image_cached},
        {"managed", vm.managed},
        {"createdAt", millis(vm.created_at)},
        {"updatedAt", millis(vm.updated_at)},
        {"assignedAt", millis(vm.assigned_at)},
        {"attempts", vm.attempts},
        {"failureReason", vm.failure_reason},
        {"message", vm.message},
        {"transitions", std::move(transitions)},
        {"hostVmId", vm.host_vm_id},
        {"seenOnHost", vm.seen_on_host},
        {"reserved", vm.reserved},
        {"deleteAcked", vm.delete_acked},
        {"deletingSince", millis(vm.deleting_since)},
        {"previousNodes", vm.previous_nodes},
    };
    if (vm.spec.cpu) document["cpu"] = *vm.spec.cpu;
    if (vm.spec.memory_gb) document["memoryGB"] = *vm.spec.memory_gb;
    // Records written before priorities and tenants lack both: 0 and none.
    if (vm.spec.priority != 0) document["priority"] = vm.spec.priority;
    if (!vm.spec.tenant.empty()) document["tenant"] = vm.spec.tenant;
    if (vm.progress) document["progress"] = *vm.progress;
    return document.dump();
}

lifecycle::VmRecord decode_vm(const std::string& text) {
    const json document = json::parse(text);
    const auto state = [](const json& value) {
        const auto parsed = protocol::parse_vm_state(value.get<std::string>());
        if (!parsed) throw std::runtime_error("unknown VM state " + value.get<std::string>());
        return *parsed;
    };
    lifecycle::VmRecord vm;
    vm.vm_id = document.at("vmId").get<std::string>();
    vm.spec.image_name = document.at("image").get<std::string>();
    vm.spec.labels = labels_from(document.at("labels"));
    vm.spec.metadata_json = document.at("metadata").get<std::string>();
    if (document.contains("cpu")) vm.spec.cpu = document["cpu"].get<int>();
    if (document.contains("memoryGB")) vm.spec.memory_gb = document["memoryGB"].get<double>();
    if (document.contains("priority")) vm.spec.priority = document["priority"].get<int>();
    if (document.contains("tenant")) vm.spec.tenant = document["tenant"].get<std::string>();
    vm.state = state(document.at("state"));
    vm.node_id = document.at("node").get<std::string>();
    vm.image_cached = document.at("imageCached").get<bool>();
    vm.managed = document.at("managed").get<bool>();
    vm.created_at = from_unix_millis(document.at("createdAt").get<std::int64_t>());
    vm.updated_at = from_unix_millis(document.at("updatedAt").get<std::int64_t>());
    vm.assigned_at = from_unix_millis(document.at("assignedAt").get<std::int64_t>());
    vm.attempts = document.at("attempts").get<int>();
    vm.failure_reason = document.at("failureReason").get<std::string>();
    vm.message = document.at("message").get<std::string>();
    if (document.contains("progress")) vm.progress = document["progress"].get<double>();
    for (const auto& transition : document.at("transitions")) {
        vm.transitions.push_back({state(transition.at("state")),
                                  from_unix_millis(transition.at("at").get<std::int64_t>()),
                                  transition.at("node").get<std::string>(), transition.at("message").get<std::string>()});
    }
    vm.host_vm_id = document.at("hostVmId").get<std::string>();
    vm.seen_on_host = document.at("seenOnHost").get<bool>();
    vm.reserved = document.at("reserved").get<bool>();
    vm.delete_acked = document.at("deleteAcked").get<bool>();
    vm.deleting_since = from_unix_millis(document.at("deletingSince").get<std::int64_t>());
    vm.previous_nodes = document.at("previousNodes").get<std::vector<std::string>>();
    return vm;
}

std::string encode_labels(const protocol::Labels& labels) { return labels_json(labels).dump(); }

protocol::Labels decode_labels(const std::string& text) { return labels_from(json::parse(text)); }

namespace {

json optional_millis(const std::optional<TimePoint>& time) { return time ? json(millis(*time)) : json(nullptr); }

std::optional<TimePoint> optional_time(const json& document, const char* name) {
    const auto it = document.find(name);
    if (it == document.end() || it->is_null()) return std::nullopt;
    return from_unix_millis(it->get<std::int64_t>());
}

} // namespace

std::string encode_job(const actions::JobRecord& job) {
    return json{{"jobId", job.job_id},
                {"runId", job.run_id},
                {"repository", job.repository},
                {"workflowName", job.workflow_name},
                {"jobName", job.job_name},
                {"labels", job.labels},
                {"htmlUrl", job.html_url},
                {"pool", job.pool},
                {"state", actions::to_string(job.state)},
                {"conclusion", job.conclusion},
                {"runnerName", job.runner_name},
                {"vmId", job.vm_id},
                {"nodeId", job.node_id},
                {"queuedAt", millis(job.queued_at)},
                {"vmAssignedAt", optional_millis(job.vm_assigned_at)},
                {"imageReadyAt", optional_millis(job.image_ready_at)},
                {"vmRunningAt", optional_millis(job.vm_running_at)},
                {"startedAt", optional_millis(job.started_at)},
                {"completedAt", optional_millis(job.completed_at)},
                {"updatedAt", millis(job.updated_at)}}
        .dump();
}

actions::JobRecord decode_job(const std::string& text) {
    const json document = json::parse(text);
    actions::JobRecord job;
    job.job_id = document.at("jobId").get<std::int64_t>();
    job.run_id = document.at("runId").get<std::int64_t>();
    job.repository = document.at("repository").get<std::string>();
    job.workflow_name = document.at("workflowName").get<std::string>();
    job.job_name = document.at("jobName").get<std::string>();
    job.labels = document.at("labels").get<std::vector<std::string>>();
    job.html_url = document.at("htmlUrl").get<std::string>();
    job.pool = document.at("pool").get<std::string>();
    const auto state = actions::parse_job_state(document.at("state").get<std::string>());
    if (!state) throw std::runtime_error("unknown job state " + document.at("state").get<std::string>());
    job.state = *state;
    job.conclusion = document.at("conclusion").get<std::string>();
    job.runner_name = document.at("runnerName").get<std::string>();
    job.vm_id = document.at("vmId").get<std::string>();
    job.node_id = document.at("nodeId").get<std::string>();
    job.queued_at = from_unix_millis(document.at("queuedAt").get<std::int64_t>());
    job.vm_assigned_at = optional_time(document, "vmAssignedAt");
    job.image_ready_at = optional_time(document, "imageReadyAt");
    job.vm_running_at = optional_time(document, "vmRunningAt");
    job.started_at = optional_time(document, "startedAt");
    job.completed_at = optional_time(document, "completedAt");
    job.updated_at = from_unix_millis(document.at("updatedAt").get<std::int64_t>());
    return job;
}

} // namespace macvmorx::storage
