#pragma once

#include "macvmorx/api/listing.hpp"
#include "macvmorx/base/clock.hpp"

#include <atomic>
#include <cstddef>
#include <string>

namespace macvmorx::orchestrator {
class Orchestrator;
}
namespace macvmorx::web {
class WebAssets;
}
namespace macvmorx::metrics {
class HttpMetrics;
class JobWaitMetrics;
class LeadershipMetrics;
class PlacementMetrics;
}
namespace macvmorx::actions {
class WorkflowJobs;
}
namespace macvmorx::fleet {
class ImageFetches;
}
namespace macvmorx::storage {
class DurableStore;
}

namespace macvmorx::api {

class Leadership;
class PeerGrants;
class WaitBudget;

// What handlers work on. Owned by the daemon (or a test); handlers only borrow it. The optional
// parts are absent in tests that do not need them.
struct ApiContext {
    orchestrator::Orchestrator& orchestrator;
    const web::WebAssets& web;
    const metrics::HttpMetrics* http_metrics = nullptr;
    const metrics::PlacementMetrics* placement_metrics = nullptr;
    const metrics::JobWaitMetrics* job_wait_metrics = nullptr;
    const metrics::LeadershipMetrics* leadership_metrics = nullptr;
    // Serving and records loaded; false while starting and stopping.
    const std::atomic<bool>* ready = nullptr;
    // Durable records: state-changing answers are sent once their change is written.
    storage::DurableStore* durable = nullptr;
    TimePoint started_at{};
    // Of several daemons on one PostgreSQL, whether this one leads; null: a daemon alone.
    const Leadership* leadership = nullptr;
    // GitHub Actions, when runner pools are configured: the jobs, and the secret webhook
    // deliveries are signed with.
    actions::WorkflowJobs* workflow_jobs = nullptr;
    const std::string* webhook_secret = nullptr;
    // Long polls per token; null: unbounded (tests of single handlers).
    WaitBudget* waits = nullptr;
    // The grants with which Macs fetch bucket images from each other; null: none issued.
    const PeerGrants* peer_grants = nullptr;
    // The fetches of bucket images under way, per lab: who takes which from where.
    fleet::ImageFetches* image_fetches = nullptr;
    // What each listing's readers were last told, for their deltas (?since=).
    ListingChanges listing_changes{};
};


} // namespace macvmorx::api
