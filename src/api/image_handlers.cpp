// Images ahead of demand (docs/scheduling.md): what each image is asked for, where it is, and an
// operator's pin of how many hosts hold it.

#include "macvmorx/api/handlers.hpp"
#include "macvmorx/api/listing.hpp"
#include "macvmorx/base/invalid_input.hpp"
#include "macvmorx/http/http_error.hpp"
#include "macvmorx/json/json_writer.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"
#include "macvmorx/protocol/image_source.hpp"
#include "macvmorx/protocol/json_fields.hpp"

#include <algorithm>

namespace macvmorx::api {
namespace {

// More hosts than any fleet has: a pin above it is a typo, not a plan.
constexpr std::int64_t max_min_hosts = 100'000;

void write_image(JsonWriter& json, const orchestrator::ImageStatus& image) {
    json.begin_object().field("imageName", image.image_name);
    json.key("demand")
        .begin_object()
        .field("placementsPerMinute", image.placements_per_minute)
        .field("peakVms", image.peak_demand)
        .field("vmsInUse", image.load.vms_in_use)
        .field("queued", image.load.queued)
        .field("poolWarm", image.load.pool_warm)
        .field("poolQueuedJobs", image.load.pool_queued_jobs)
        .field("rolloutHosts", image.load.rollout_hosts)
        .end_object();
    json.field("minHosts", image.min_hosts)
        .field("target", image.target)
        .field("holders", image.holders)
        .field("pulling", image.pulling)
        .key("meanPullSeconds");
    image.mean_pull_seconds ? json.value(*image.mean_pull_seconds) : json.null();
    const auto placements = image.cached_placements + image.uncached_placements;
    json.key("cachedPlacementShare");
    placements > 0 ? json.value(static_cast<double>(image.cached_placements) / static_cast<double>(placements)) : json.null();
    json.key("placements")
        .begin_object()
        .field("cached", image.cached_placements)
        .field("uncached", image.uncached_placements)
        .end_object()
        .end_object();
}

} // namespace

http::Response handle_list_images(const http::Request& request, ApiContext& context) {
    auto images = context.orchestrator.images();
    // The most asked for first: what an operator looks at.
    std::stable_sort(images.begin(), images.end(), [](const auto& a, const auto& b) {
        if (a.peak_demand != b.peak_demand) return a.peak_demand > b.peak_demand;
        if (a.placements_per_minute != b.placements_per_minute) return a.placements_per_minute > b.placements_per_minute;
        return a.image_name < b.image_name;
    });
    const auto& distribution = context.orchestrator.image_distribution();
    const auto pulls = distribution.pull_counts();
    http::Response response;
    JsonWriter json{response.body};
    json.begin_object()
        .field("maxConcurrentPulls", distribution.options().max_concurrent_pulls)
        .field("pullsInFlight", distribution.pulls_in_flight());
    json.key("pullsAheadOfDemand")
        .begin_object()
        .field("started", pulls.started)
        .field("finished", pulls.finished)
        .field("failed", pulls.failed)
        .end_object();
    json.key("images").begin_array();
    for (const auto& image : images) write_image(json, image);
    json.end_array().end_object();
    finish_listing(request, response);
    return response;
}

void handle_pin_image(const http::Request& request, ApiContext& context, Reply reply) {
    const std::string image{request.path_param("imageName")};
    const auto& rule = protocol::image_name_rule;
    if (!protocol::fits(image, rule)) {
        throw MalformedInput("the image name must have 1 to " + std::to_string(rule.max_length) + " characters: " +
                                 std::string(rule.allowed_description) + " (a / percent-encoded as %2F)",
                             "imageName");
    }
    protocol::image_source(image, "imageName"); // a bucket object's URL must be well formed
    const nlohmann::json document = protocol::parse_json_object(request.body);
    const protocol::FieldReader fields{document};
    if (!fields.has("minHosts")) throw MalformedInput("minHosts is required", "minHosts");
    const auto min_hosts = fields.optional_integer("minHosts", 0, max_min_hosts);
    if (!context.orchestrator.image_known(image)) {
        throw http::HttpError(422, "unknown image",
                              "no host holds or pulls image '" + image +
                                  "', and no VM or runner pool asked for it: check its name (pin an image once a "
                                  "pool names it or a host holds it)",
                              "imageName");
    }
    context.orchestrator.pin_image(image, static_cast<int>(*min_hosts));
    const auto images = context.orchestrator.images();
    const auto it = std::find_if(images.begin(), images.end(), [&image](const auto& status) { return status.image_name == image; });
    http::Response response;
    JsonWriter json{response.body};
    if (it != images.end()) {
        write_image(json, *it);
    } else {
        json.begin_object().field("imageName", image).field("minHosts", *min_hosts).end_object();
    }
    // Answered once the pin is on disk: it survives a restart, and a failover.
    answer_when_durable(context, reply, std::move(response));
}

} // namespace macvmorx::api
