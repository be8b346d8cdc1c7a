#include "simulate_options.hpp"

#include "option_checks.hpp"
#include "setting_sources.hpp"

#include "macvmorx/base/duration.hpp"
#include "macvmorx/config/actions_config.hpp"
#include "macvmorx/http/base_url.hpp"

#include <CLI/CLI.hpp>

namespace macvmorx::cli {
namespace {

// NAME[:GB[:WEIGHT]]
std::optional<sim::SimulatedImage> parse_image_spec(const std::string& text) {
    sim::SimulatedImage image;
    const auto first = text.find(':');
    image.name = text.substr(0, first);
    if (image.name.empty()) return std::nullopt;
    try {
        if (first != std::string::npos) {
            const auto second = text.find(':', first + 1);
            image.size_gb = std::stod(text.substr(first + 1, second - first - 1));
            if (second != std::string::npos) image.weight = std::stod(text.substr(second + 1));
        }
    } catch (const std::exception&) {
        return std::nullopt;
    }
    if (image.size_gb <= 0 || image.weight <= 0) return std::nullopt;
    return image;
}

const CLI::Validator image_spec_check{
    [](std::string& value) -> std::string {
        return parse_image_spec(value) ? std::string{} : "'" + value + "' is not NAME[:SIZE_GB[:WEIGHT]]";
    },
    "IMAGE"};

// The study's durations, where 0 means none (no warm-up, no ageing).
const CLI::Validator study_duration_check{
    [](std::string& value) -> std::string {
        return parse_duration(value) ? std::string{} : "'" + value + "' is not a duration (use e.g. 0, 45s, 20m, 1h)";
    },
    "DURATION"};

} // namespace

void add_simulate_options(CLI::App& simulate, sim::SimulationOptions& options, SimulateText& text,
                          config::LogConfig& log) {
    text.server = default_orchestrator_url();
    text.heartbeat_interval = format_duration(options.heartbeat_interval);
    text.failure_duration = format_duration(options.failure_duration);
    text.boot_time = format_duration(options.profile.boot_time);
    text.job_runtime = format_duration(options.profile.job_runtime);
    text.warm_up = format_duration(options.study.warm_up);
    text.flood_duration = format_duration(options.study.flood_duration);
    text.priority_aging = format_duration(options.study.priority_aging);
    text.rollout_lead = format_duration(options.study.rollout_lead);
    simulate.add_option("--server", text.server, "The orchestrator to report to")
        ->envname("MACVMORX_SERVER")
        ->check(server_url_check)
        ->capture_default_str();
    simulate.add_option("--token-file", text.token_file,
                        "A token for an orchestrator that requires them (admin: the simulated Macs report and "
                        "place VMs), read from this file")
        ->envname("MACVMORX_SIMULATE_TOKEN_FILE")
        ->check(CLI::ExistingFile);
    simulate.add_option("--nodes", options.nodes, "Simulated Mac Minis")->check(CLI::Range(1, 100'000))->capture_default_str();
    simulate.add_option("--node-prefix", options.node_prefix, "Node ids are this prefix and a number")
        ->capture_default_str();
    simulate.add_option("--heartbeat-interval", text.heartbeat_interval, "How often each Mac reports")
        ->check(positive_duration_check)
        ->capture_default_str();
    simulate.add_option("--jobs-per-minute", options.jobs_per_minute,
                        "CI jobs asking for a VM, on average per minute (arriving at random)")
        ->check(CLI::Range(0.0, 1'000'000.0))
        ->capture_default_str();
    simulate.add_option("--initial-jobs", options.initial_jobs,
                        "Jobs asked for at once when the fleet has reported (a demo that starts busy)")
        ->check(CLI::Range(0, 100'000))
        ->capture_default_str();
    simulate.add_option("--image", text.images,
                        "An image of the mix, NAME[:SIZE_GB[:WEIGHT]] (repeat it; default: five common macOS images)")
        ->check(image_spec_check);
    simulate.add_option("--seed", options.seed, "Seed of every random choice: the same seed gives the same run")
        ->capture_default_str();
    simulate.add_option("--node-failures-per-hour", options.node_failures_per_hour,
                        "Macs that stop heartbeating (and lose their VMs), on average per hour")
        ->check(CLI::Range(0.0, 100'000.0))
        ->capture_default_str();
    simulate.add_option("--failure-duration", text.failure_duration, "How long a failed Mac stays silent")
        ->check(positive_duration_check)
        ->capture_default_str();
    simulate.add_option("--bandwidth-mbps", options.profile.bandwidth_mbps, "Image download speed of each Mac")
        ->check(CLI::Range(1.0, 1'000'000.0))
        ->capture_default_str();
    simulate.add_option("--boot-time", text.boot_time, "Mean time from clone to running runner")
        ->check(positive_duration_check)
        ->capture_default_str();
    simulate.add_option("--job-runtime", text.job_runtime, "Mean time a runner works before its VM ends")
        ->check(positive_duration_check)
        ->capture_default_str();
    simulate.add_option("--max-cached-images", options.max_cached_images, "Images each Mac keeps (LRU)")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    simulate.add_option("--pull-failure-rate", options.profile.pull_failure_rate, "Share of image pulls that fail")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    simulate.add_option("--boot-failure-rate", options.profile.boot_failure_rate, "Share of boots that fail")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    simulate.add_option("--ghost-rate", options.profile.ghost_rate,
                        "Share of deletions that leave a ghost VM holding one of macOS's two slots")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    simulate.add_option("--image-rollout", options.image_rollout_gb,
                        "GB of a new bucket image the --nodes Macs of a lab all take: prints the model's minutes and "
                        "bytes from the bucket with and without peers, then exits (no daemon)")
        ->check(CLI::Range(0.0, 10'000.0))
        ->capture_default_str();
    simulate.add_option("--uplink-mbps", options.rollout.uplink_mbit_per_second, "The lab's link to the bucket, shared")
        ->check(CLI::Range(1.0, 1'000'000.0))
        ->capture_default_str();
    simulate.add_option("--lan-mbps", options.rollout.lan_mbit_per_second, "Each Mac's network card, each way")
        ->check(CLI::Range(1.0, 1'000'000.0))
        ->capture_default_str();
    simulate.add_option("--peer-upload-rate", options.rollout.peer_upload_mb_per_second,
                        "MB/s each Mac uploads to peers at most (0: no bound)")
        ->check(CLI::Range(0.0, 100'000.0))
        ->capture_default_str();
    simulate.add_option("--peer-max-uploads", options.rollout.peer_max_uploads, "Uploads to peers at once per Mac")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    simulate.add_flag("--scheduling-study", options.scheduling_study,
                      "Instead of a fleet: the real orchestrator in process with --nodes model Macs in virtual time, "
                      "jobs of two tenants, pre-distribution and fair share on and off; prints the tables of "
                      "docs/benchmarks.md and exits (no daemon)");
    simulate.add_option("--hours", options.study.hours, "The study's virtual hours of job arrivals")
        ->check(CLI::Range(0.1, 1000.0))
        ->capture_default_str();
    simulate.add_option("--warm-up", text.warm_up, "The study's first part, not measured")
        ->check(study_duration_check)
        ->capture_default_str();
    simulate.add_option("--study-images", options.study.images, "Images of the study's jobs")
        ->check(CLI::Range(2, 1000))
        ->capture_default_str();
    simulate.add_option("--zipf-exponent", options.study.zipf_exponent, "How unevenly the study's jobs ask for images")
        ->check(CLI::Range(0.0, 10.0))
        ->capture_default_str();
    simulate.add_option("--min-image-gb", options.study.image_gb_min, "The study's smallest image")
        ->check(CLI::Range(0.1, 10'000.0))
        ->capture_default_str();
    simulate.add_option("--max-image-gb", options.study.image_gb_max, "The study's largest image")
        ->check(CLI::Range(0.1, 10'000.0))
        ->capture_default_str();
    simulate.add_option("--flood-factor", options.study.flood_factor, "How many times its rate the flooding tenant asks")
        ->check(CLI::Range(1.0, 1000.0))
        ->capture_default_str();
    simulate.add_option("--flood-duration", text.flood_duration, "How long the flood lasts")
        ->check(study_duration_check)
        ->capture_default_str();
    simulate.add_option("--max-concurrent-pulls", options.study.max_concurrent_pulls,
                        "The study's pulls ahead of demand at once, when on (the daemon's setting)")
        ->check(CLI::Range(1, 10'000))
        ->capture_default_str();
    simulate.add_option("--priority-aging", text.priority_aging,
                        "The study's queue: a waiting request joins a higher priority's requests, one level per interval (0: none)")
        ->check(study_duration_check)
        ->capture_default_str();
    simulate.add_option("--rollout-lead", text.rollout_lead,
                        "The study's operator pins the new version this long before its demand moves over (0: no pin)")
        ->check(study_duration_check)
        ->capture_default_str();
    simulate.add_flag("--ack-delete-when-gone", options.study.ack_delete_when_gone,
                      "The study's agents acknowledge deleteVm once the clone is gone, not when they take it");
    simulate.add_flag("--no-long-poll", text.no_long_poll, "Agents learn of commands only from heartbeat answers");
    simulate.add_flag("--no-queue", text.no_queue, "Jobs do not wait when the fleet is full (they get 503)");
    add_log_options(simulate, log, text.log);
}

void apply_simulate_text(sim::SimulationOptions& options, config::LogConfig& log, const SimulateText& text) {
    options.server = http::BaseUrl::parse(text.server);
    options.heartbeat_interval = *parse_duration(text.heartbeat_interval);
    options.failure_duration = *parse_duration(text.failure_duration);
    options.profile.boot_time = *parse_duration(text.boot_time);
    options.profile.job_runtime = *parse_duration(text.job_runtime);
    options.long_poll = !text.no_long_poll;
    options.queue_jobs = !text.no_queue;
    options.study.warm_up = *parse_duration(text.warm_up);
    options.study.flood_duration = *parse_duration(text.flood_duration);
    options.study.priority_aging = *parse_duration(text.priority_aging);
    options.study.rollout_lead = *parse_duration(text.rollout_lead);
    if (!text.images.empty()) {
        options.images.clear();
        for (const auto& spec : text.images) options.images.push_back(*parse_image_spec(spec));
    }
    if (!text.token_file.empty()) options.token = config::read_secret_file(text.token_file, "--token-file");
    apply_log_text(log, text.log);
}

} // namespace macvmorx::cli
