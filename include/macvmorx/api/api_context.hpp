#pragma once

namespace macvmorx::orchestrator {
class Orchestrator;
}
namespace macvmorx::web {
class WebAssets;
}

namespace macvmorx::api {

// What handlers work on. Owned by the daemon (or a test); handlers only borrow it.
struct ApiContext {
    orchestrator::Orchestrator& orchestrator;
    const web::WebAssets& web;
};

} // namespace macvmorx::api
