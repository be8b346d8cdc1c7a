// A simulated Mac through the real agent takes a pullImage (issue 23): it downloads the image
// once, lists it as pulling meanwhile, and a VM made from it later needs no download.

#include "fake_orchestrator_link.hpp"

#include "macvmorx/agent/agent.hpp"
#include "macvmorx/base/clock.hpp"
#include "macvmorx/protocol/vm_state.hpp"
#include "macvmorx/sim/simulated_mac.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>

namespace {

// Runs the io_context until `done` holds; false after five seconds without it.
bool run_simulation_until(boost::asio::io_context& ioc, const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        ioc.restart();
        ioc.run_one_for(std::chrono::milliseconds{10});
    }
    return true;
}

} // namespace

TEST(SimulatedMacPull, AnImagePulledAheadOfDemandIsThereForTheNextVm) {
    using macvmorx::protocol::CommandType;
    const std::string image = "ghcr.io/acme/sonoma:1";
    boost::asio::io_context ioc;
    macvmorx::sim::SimulationProfile profile;
    profile.image_sizes_gb[image] = 30;
    profile.bandwidth_mbps = 1.2e6; // 30 GB in 0.2 s
    profile.boot_time = std::chrono::milliseconds{20};
    macvmorx::sim::SimulatedMac mac{ioc, profile, macvmorx::sim::MacModel{}, 7};
    macvmorx::testing::FakeOrchestratorLink link{ioc};
    macvmorx::ManualClock clock;
    macvmorx::agent::AgentOptions options;
    options.node_id = "sim-mac-1";
    options.heartbeat_interval = std::chrono::hours{1};
    options.seed = 7;
    macvmorx::agent::Agent agent{ioc, options, link, mac, mac, clock};
    agent.start();
    ASSERT_TRUE(run_simulation_until(ioc, [&] { return !link.heartbeats.empty() && link.polls > 0; }));

    macvmorx::protocol::Command pull;
    pull.id = "p1";
    pull.type = CommandType::pull_image;
    pull.image_name = image;
    link.give({pull});
    ASSERT_TRUE(run_simulation_until(ioc, [&] { return mac.pulls() == 1; }));
    EXPECT_EQ(agent.build_heartbeat().pulling_images, std::vector<std::string>{image});
    ASSERT_TRUE(run_simulation_until(ioc, [&] { return agent.build_heartbeat().cached_images == std::vector<std::string>{image}; }));
    EXPECT_TRUE(agent.build_heartbeat().pulling_images.empty());

    macvmorx::protocol::Command create;
    create.id = "c1";
    create.type = CommandType::create_vm;
    create.vm_id = "vm-1";
    create.image_name = image;
    link.give({create});
    ASSERT_TRUE(run_simulation_until(ioc, [&] {
        return !link.events_of("vm-1", macvmorx::protocol::VmState::running).empty();
    }));
    EXPECT_EQ(mac.pulls(), 1);
    agent.stop();
}
