#include "macvmorx/github/workflow_job.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <stdexcept>

namespace macvmorx::github {
namespace {

using nlohmann::json;

const json& member(const json& object, const char* name, const char* path) {
    const auto it = object.find(name);
    if (it == object.end()) throw std::invalid_argument(std::string(path) + " is missing");
    return *it;
}

std::string text(const json& object, const char* name, const char* path) {
    const auto it = object.find(name);
    if (it == object.end() || it->is_null()) return {};
    if (!it->is_string()) throw std::invalid_argument(std::string(path) + " must be a string");
    return it->get<std::string>();
}

std::int64_t number(const json& object, const char* name, const char* path) {
    const json& value = member(object, name, path);
    if (!value.is_number_integer()) throw std::invalid_argument(std::string(path) + " must be a whole number");
    if (value.is_number_unsigned() && value.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
        throw std::invalid_argument(std::string(path) + " is too large");
    }
    return value.get<std::int64_t>();
}

} // namespace

WorkflowJobEvent parse_workflow_job(std::string_view body) {
    const json document = json::parse(body, nullptr, false);
    if (!document.is_object()) throw std::invalid_argument("the body is not a JSON object");
    const json& job = member(document, "workflow_job", "workflow_job");
    if (!job.is_object()) throw std::invalid_argument("workflow_job must be an object");
    const json& repository = member(document, "repository", "repository");
    if (!repository.is_object()) throw std::invalid_argument("repository must be an object");

    WorkflowJobEvent event;
    event.action = text(document, "action", "action");
    if (event.action.empty()) throw std::invalid_argument("action is missing");
    event.job_id = number(job, "id", "workflow_job.id");
    event.run_id = number(job, "run_id", "workflow_job.run_id");
    event.repository = text(repository, "full_name", "repository.full_name");
    if (event.repository.empty()) throw std::invalid_argument("repository.full_name is missing");
    event.workflow_name = text(job, "workflow_name", "workflow_job.workflow_name");
    event.job_name = text(job, "name", "workflow_job.name");
    event.html_url = text(job, "html_url", "workflow_job.html_url");
    event.runner_name = text(job, "runner_name", "workflow_job.runner_name");
    event.status = text(job, "status", "workflow_job.status");
    if (const auto organization = document.find("organization"); organization != document.end() && organization->is_object()) {
        event.organization = text(*organization, "login", "organization.login");
    }
    if (const auto installation = document.find("installation"); installation != document.end() && installation->is_object() &&
                                                                 installation->contains("id")) {
        event.installation_id = number(*installation, "id", "installation.id");
    }
    event.conclusion = text(job, "conclusion", "workflow_job.conclusion");
    if (const auto labels = job.find("labels"); labels != job.end()) {
        if (!labels->is_array()) throw std::invalid_argument("workflow_job.labels must be an array of strings");
        for (const auto& label : *labels) {
            if (!label.is_string()) throw std::invalid_argument("workflow_job.labels must be an array of strings");
            event.labels.push_back(label.get<std::string>());
        }
    }
    return event;
}

} // namespace macvmorx::github
