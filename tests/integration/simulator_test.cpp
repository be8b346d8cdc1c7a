// macvmorx simulate against a real daemon: a small fleet registers, takes jobs, runs and ends VMs.

#include "test_daemon.hpp"

#include "macvmorx/auth/token.hpp"
#include "macvmorx/sim/fleet_simulator.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

using namespace std::chrono_literals;
using macvmorx::sim::FleetSimulator;
using macvmorx::sim::SimulationOptions;
using macvmorx::testing::eventually;
using nlohmann::json;

namespace {

SimulationOptions small_fast_fleet(std::uint16_t port) {
    SimulationOptions options;
    options.server = {false, "127.0.0.1", port, ""};
    options.nodes = 6;
    options.heartbeat_interval = 100ms;
    options.jobs_per_minute = 600;
    options.profile.bandwidth_mbps = 1'000'000;
    options.profile.boot_time = 50ms;
    options.profile.job_runtime = 300ms;
    options.seed = 42;
    return options;
}

} // namespace

TEST(Simulator, TheSameSeedBuildsTheSameFleet) {
    const auto options = small_fast_fleet(1);
    const FleetSimulator first{options};
    const FleetSimulator second{options};
    EXPECT_EQ(first.describe(), second.describe());
    ASSERT_EQ(first.describe().size(), 6u);
    EXPECT_TRUE(first.describe()[0].starts_with("sim-mac-001 arch=arm64,chip=")) << first.describe()[0];

    auto other_seed = options;
    other_seed.seed = 43;
    EXPECT_NE(FleetSimulator{other_seed}.describe(), first.describe());
}

TEST(Simulator, ASimulatedFleetRegistersTakesJobsAndEndsThem) {
    macvmorx::testing::TestDaemon server;
    auto options = small_fast_fleet(server.port());
    options.node_failures_per_hour = 3600; // about one a second
    options.failure_duration = 300ms;
    FleetSimulator simulator{options};
    std::thread runner{[&simulator] { simulator.run(); }};

    auto client = server.client();
    EXPECT_TRUE(eventually([&] { return json::parse(client.get("/api/nodes").body).size() == 6; }));
    const auto first = json::parse(client.get("/api/nodes").body)[0];
    EXPECT_EQ(first["nodeId"], "sim-mac-001");
    EXPECT_GT(first["totalMemoryGB"].get<double>(), 0);
    EXPECT_FALSE(first["cachedImages"].empty()) << "simulated Macs start with images";
    EXPECT_EQ(first["labels"]["arch"], "arm64");

    // Jobs arrive, VMs run and end on their own when their job is done.
    EXPECT_TRUE(eventually([&] {
        return json::parse(client.get("/api/vms?state=deleted").body).size() >= 5;
    }, 15s));
    EXPECT_TRUE(eventually([&] { return simulator.stats().node_failures >= 1; }, 10s));

    simulator.stop();
    runner.join();
    const auto stats = simulator.stats();
    EXPECT_GT(stats.jobs_requested, 5u);
    EXPECT_LE(stats.jobs_placed + stats.jobs_queued + stats.jobs_refused, stats.jobs_requested)
        << "those still in flight at the stop are not counted";
    EXPECT_GT(stats.jobs_placed + stats.jobs_queued, 5u);
    EXPECT_EQ(stats.jobs_refused, 0u) << "jobs wait in the queue rather than being refused";
}

// `macvmorx simulate --token-file`: a simulated fleet against a daemon that requires tokens.
TEST(Simulator, ASimulatedFleetReportsAndPlacesWithAnAdminToken) {
    const auto tokens = std::filesystem::temp_directory_path() / ("macvmorx-sim-tokens-" + std::to_string(::getpid()));
    std::ofstream{tokens} << "sha256:" << macvmorx::auth::sha256_hex("mvx_sim-admin") << " admin simulator\n";
    auto config = macvmorx::testing::test_config();
    config.tokens_file = tokens.string();
    macvmorx::testing::TestDaemon server{config};
    auto options = small_fast_fleet(server.port());
    options.token = "mvx_sim-admin";
    FleetSimulator simulator{options};
    std::thread runner{[&simulator] { simulator.run(); }};

    auto client = server.client();
    const auto nodes = [&client] {
        const auto answer = client.request(macvmorx::http::Method::get, "/api/nodes", {},
                                           {{"Authorization", "Bearer mvx_sim-admin"}});
        return answer.status == 200 ? json::parse(answer.body) : json::array();
    };
    EXPECT_TRUE(eventually([&] { return nodes().size() == 6; })) << "the simulated Macs' heartbeats carry the token";
    EXPECT_TRUE(eventually([&] {
        const auto answer = client.request(macvmorx::http::Method::get, "/api/vms", {},
                                           {{"Authorization", "Bearer mvx_sim-admin"}});
        return answer.status == 200 && !json::parse(answer.body).empty();
    })) << "its CI places VMs with the token";
    EXPECT_EQ(client.get("/api/nodes").status, 401);
    simulator.stop();
    runner.join();
    std::filesystem::remove(tokens);
}
