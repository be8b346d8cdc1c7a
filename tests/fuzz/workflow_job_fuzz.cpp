// The body of POST /webhooks/github: parse_workflow_job, which handle_github_webhook calls once
// the signature matched (GitHub, or whoever holds the secret, is trusted no further than that). A
// refusal is std::invalid_argument and nothing else; an accepted event names its action and
// repository.

#include "property.hpp"

#include "macvmorx/github/workflow_job.hpp"

#include <stdexcept>

using namespace macvmorx;
using fuzz::expect;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    github::WorkflowJobEvent event;
    try {
        event = github::parse_workflow_job(fuzz::as_text(data, size));
    } catch (const std::invalid_argument&) {
        return 0;
    }
    expect(!event.action.empty(), "an event has an action");
    expect(!event.repository.empty(), "an event names its repository");
    return 0;
}
