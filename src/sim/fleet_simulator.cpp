#include "macvmorx/sim/fleet_simulator.hpp"

#include "macvmorx/agent/agent.hpp"
#include "macvmorx/agent/http_orchestrator_link.hpp"
#include "macvmorx/http/async_client.hpp"
#include "macvmorx/json/json_writer.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <mutex>
#include <random>

namespace macvmorx::sim {

std::vector<SimulatedImage> default_images() {
    return {
        {"macos-sequoia-xcode-16", 54, 4},
        {"macos-sonoma-xcode-15", 48, 3},
        {"macos-sequoia-base", 24, 2},
        {"macos-ventura-xcode-14", 42, 1},
        {"macos-tahoe-xcode-26-beta", 60, 1},
    };
}

namespace {

// The kinds of Mac Mini in a typical lab, chosen per node from the seed.
struct Hardware {
    const char* chip;
    double memory_gb;
    double disk_gb;
};
constexpr Hardware models[] = {{"m1", 16, 512}, {"m2", 24, 1000}, {"m2-pro", 32, 1000}, {"m4", 32, 2000}, {"m4-pro", 64, 2000}};

} // namespace

struct FleetSimulator::Fleet {
    struct Node {
        std::string node_id;
        MacModel model;
        protocol::Labels labels;
        std::vector<std::string> preloaded;
        std::unique_ptr<SimulatedMac> mac;
        std::unique_ptr<agent::HttpOrchestratorLink> link;
        std::unique_ptr<agent::Agent> agent;
        bool up = false;
    };

    explicit Fleet(SimulationOptions simulation) : options{std::move(simulation)}, random{options.seed} {
        for (const auto& image : options.images) options.profile.image_sizes_gb[image.name] = image.size_gb;
    }

    SimulationOptions options;
    SystemClock clock;
    boost::asio::io_context ioc;
    std::mt19937_64 random;
    std::vector<std::unique_ptr<Node>> nodes;
    std::unique_ptr<http::AsyncClient> ci;
    boost::asio::steady_timer job_timer{ioc};
    boost::asio::steady_timer failure_timer{ioc};
    boost::asio::steady_timer report_timer{ioc};
    std::uint64_t job_counter = 0;

    mutable std::mutex stats_mutex;
    SimulationStats stats;

    const SimulatedImage& pick_image() {
        std::vector<double> weights;
        for (const auto& image : options.images) weights.push_back(image.weight);
        std::discrete_distribution<std::size_t> pick{weights.begin(), weights.end()};
        return options.images[pick(random)];
    }

    void build() {
        std::uniform_int_distribution<std::size_t> model_pick{0, std::size(models) - 1};
        std::uniform_int_distribution<int> preload_count{1, 3};
        for (int i = 0; i < options.nodes; ++i) {
            auto node = std::make_unique<Node>();
            char name[32];
            std::snprintf(name, sizeof name, "%03d", i + 1);
            node->node_id = options.node_prefix + name;
            const Hardware& hardware = models[model_pick(random)];
            node->model = {hardware.memory_gb, hardware.disk_gb, 3.0};
            node->labels = {{"arch", "arm64"}, {"chip", hardware.chip}, {"simulated", ""}};
            node->mac = std::make_unique<SimulatedMac>(ioc, options.profile, node->model, random());
            // A lab's Macs start with a few images already pulled.
            for (int n = preload_count(random); n > 0; --n) {
                const auto& image = pick_image().name;
                node->mac->preload_image(image);
                node->preloaded.push_back(image);
            }
            nodes.push_back(std::move(node));
        }
    }

    void boot(Node& node) {
        node.link = std::make_unique<agent::HttpOrchestratorLink>(ioc, options.server, options.token);
        agent::AgentOptions agent_options;
        agent_options.node_id = node.node_id;
        agent_options.heartbeat_interval = options.heartbeat_interval;
        agent_options.long_poll = options.long_poll;
        agent_options.max_cached_images = options.max_cached_images;
        agent_options.labels = node.labels;
        agent_options.seed = random();
        node.agent = std::make_unique<agent::Agent>(ioc, agent_options, *node.link, *node.mac, *node.mac, clock);
        node.agent->start();
        node.up = true;
    }

    void fail(Node& node) {
        spdlog::info("simulate: node {} fails for {}s", node.node_id,
                     std::chrono::duration_cast<std::chrono::seconds>(options.failure_duration).count());
        node.agent.reset();
        node.link.reset();
        node.mac->crash();
        node.up = false;
        {
            std::lock_guard lock{stats_mutex};
            ++stats.node_failures;
        }
        auto timer = std::make_shared<boost::asio::steady_timer>(ioc, options.failure_duration);
        timer->async_wait([this, timer, &node](boost::system::error_code ec) {
            if (ec) return;
            spdlog::info("simulate: node {} is back", node.node_id);
            boot(node);
        });
    }

    // Poisson arrivals: exponential gaps with the configured mean rate.
    template <typename Action>
    void every_random(boost::asio::steady_timer& timer, double per_minute, Action action) {
        if (per_minute <= 0) return;
        std::exponential_distribution<double> gap{per_minute / 60.0};
        timer.expires_after(std::chrono::duration_cast<Duration>(std::chrono::duration<double>(gap(random))));
        timer.async_wait([this, &timer, per_minute, action](boost::system::error_code ec) {
            if (ec) return;
            action();
            every_random(timer, per_minute, action);
        });
    }

    void submit_job() {
        const auto& image = pick_image();
        const std::uint64_t job = ++job_counter;
        std::string body;
        JsonWriter json{body};
        json.begin_object().field("imageName", image.name).field("wait", options.queue_jobs).key("metadata");
        json.begin_object().field("simulatedJob", job).end_object().end_object();
        std::vector<http::Header> headers{{"Content-Type", "application/json"}};
        if (!options.token.empty()) headers.push_back({"Authorization", "Bearer " + options.token});
        {
            std::lock_guard lock{stats_mutex};
            ++stats.jobs_requested;
        }
        ci->request(http::Method::post, "/api/schedule-vm", std::move(body), std::move(headers),
                    [this](std::error_code ec, http::ClientResponse response) {
                        if (ec == std::errc::operation_canceled) return; // the simulation is stopping
                        std::lock_guard lock{stats_mutex};
                        if (!ec && response.status == 200) {
                            ++stats.jobs_placed;
                        } else if (!ec && response.status == 202) {
                            ++stats.jobs_queued;
                        } else {
                            ++stats.jobs_refused;
                        }
                    });
    }

    void fail_random_node() {
        std::vector<Node*> up;
        for (auto& node : nodes) {
            if (node->up) up.push_back(node.get());
        }
        if (up.empty()) return;
        fail(*up[std::uniform_int_distribution<std::size_t>{0, up.size() - 1}(random)]);
    }

    // Every 5 s the figures other threads may read are refreshed; every minute they are logged.
    void report(int tick = 0) {
        report_timer.expires_after(std::chrono::seconds{5});
        report_timer.async_wait([this, tick](boost::system::error_code ec) {
            if (ec) return;
            int up = 0;
            int running = 0;
            for (const auto& node : nodes) {
                up += node->up ? 1 : 0;
                running += node->mac->running_vms();
            }
            SimulationStats now;
            {
                std::lock_guard lock{stats_mutex};
                stats.nodes_up = up;
                stats.vms_running = running;
                now = stats;
            }
            if ((tick + 1) % 12 == 0) {
                spdlog::info("simulate: {} of {} nodes up, {} VMs running; jobs {} asked, {} placed, {} queued, {} refused",
                             now.nodes_up, nodes.size(), now.vms_running, now.jobs_requested, now.jobs_placed,
                             now.jobs_queued, now.jobs_refused);
            }
            report(tick + 1);
        });
    }
};

FleetSimulator::FleetSimulator(SimulationOptions options) : fleet_{std::make_unique<Fleet>(std::move(options))} {
    fleet_->build();
}

FleetSimulator::~FleetSimulator() = default;

void FleetSimulator::run() {
    auto& fleet = *fleet_;
    spdlog::info("simulate: {} Macs reporting to {} every {}s; {} jobs per minute; {} node failures per hour",
                 fleet.nodes.size(), fleet.options.server.origin(),
                 std::chrono::duration_cast<std::chrono::seconds>(fleet.options.heartbeat_interval).count(),
                 fleet.options.jobs_per_minute, fleet.options.node_failures_per_hour);
    // Spread the first heartbeats over one interval, as a real fleet's would be.
    std::uniform_real_distribution<double> offset{0, 1};
    for (auto& node : fleet.nodes) {
        auto timer = std::make_shared<boost::asio::steady_timer>(
            fleet.ioc, std::chrono::duration_cast<Duration>(fleet.options.heartbeat_interval * offset(fleet.random) / 5));
        timer->async_wait([&fleet, timer, node = node.get()](boost::system::error_code ec) {
            if (!ec) fleet.boot(*node);
        });
    }
    fleet.ci = std::make_unique<http::AsyncClient>(
        fleet.ioc, fleet.options.server.host, fleet.options.server.port, std::chrono::seconds{10},
        fleet.options.server.tls ? std::optional{http::ClientTls{}} : std::nullopt);
    fleet.every_random(fleet.job_timer, fleet.options.jobs_per_minute, [&fleet] { fleet.submit_job(); });
    fleet.every_random(fleet.failure_timer, fleet.options.node_failures_per_hour / 60.0,
                       [&fleet] { fleet.fail_random_node(); });
    fleet.report();
    if (fleet.options.initial_jobs > 0) {
        // After every Mac has sent its first heartbeat.
        auto timer = std::make_shared<boost::asio::steady_timer>(fleet.ioc, fleet.options.heartbeat_interval);
        timer->async_wait([&fleet, timer](boost::system::error_code ec) {
            if (ec) return;
            for (int i = 0; i < fleet.options.initial_jobs; ++i) fleet.submit_job();
        });
    }
    fleet.ioc.run();
}

void FleetSimulator::stop() {
    boost::asio::post(fleet_->ioc, [fleet = fleet_.get()] {
        fleet->job_timer.cancel();
        fleet->failure_timer.cancel();
        fleet->report_timer.cancel();
        for (auto& node : fleet->nodes) {
            node->agent.reset();
            node->link.reset();
        }
        fleet->ci.reset();
        fleet->ioc.stop();
    });
}

std::vector<std::string> FleetSimulator::describe() const {
    std::vector<std::string> lines;
    for (const auto& node : fleet_->nodes) {
        std::string line = node->node_id + " " + protocol::to_string(node->labels) +
                           " memory=" + std::to_string(static_cast<int>(node->model.memory_total_gb)) +
                           " disk=" + std::to_string(static_cast<int>(node->model.disk_total_gb)) + " images=";
        for (const auto& image : node->preloaded) line += image + ";";
        lines.push_back(std::move(line));
    }
    return lines;
}

SimulationStats FleetSimulator::stats() const {
    std::lock_guard lock{fleet_->stats_mutex};
    return fleet_->stats;
}

} // namespace macvmorx::sim
