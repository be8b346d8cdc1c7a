#pragma once

// An Agent on an io_context the test drives, talking to an in-process orchestrator and a fake
// Mac: no socket, no thread, no tart.

#include "fake_orchestrator_link.hpp"
#include "fake_vm_backend.hpp"

#include "macvmorx/agent/agent.hpp"
#include "macvmorx/base/clock.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <unistd.h>

namespace macvmorx::testing {

class AgentFixture : public ::testing::Test {
protected:
    AgentFixture() {
        options.node_id = "mac-1";
        options.heartbeat_interval = std::chrono::hours{1}; // heartbeats come when a test asks
        options.seed = 1;
    }
    ~AgentFixture() override {
        agent.reset();
        std::filesystem::remove_all(state_dir);
    }

    // Starts the agent and runs until its first heartbeat is answered.
    void start() {
        agent = std::make_unique<agent::Agent>(ioc, options, link, backend, backend, clock);
        agent->start();
        ASSERT_TRUE(run_until([&] { return !link.heartbeats.empty() && link.polls > 0; }));
    }

    // Runs the io_context until `done` holds; false after two seconds without it.
    bool run_until(const std::function<bool()>& done) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{2};
        while (!done()) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            ioc.restart();
            ioc.run_one_for(std::chrono::milliseconds{10});
        }
        return true;
    }
    // Runs what is ready now and what that makes ready, without waiting for any timer.
    void settle() {
        ioc.restart();
        ioc.poll();
    }

    static protocol::Command create_vm(std::string id, std::string vm_id, std::string image) {
        protocol::Command command;
        command.id = std::move(id);
        command.type = protocol::CommandType::create_vm;
        command.vm_id = std::move(vm_id);
        command.image_name = std::move(image);
        return command;
    }
    static protocol::Command delete_vm(std::string id, std::string vm_id) {
        protocol::Command command;
        command.id = std::move(id);
        command.type = protocol::CommandType::delete_vm;
        command.vm_id = std::move(vm_id);
        return command;
    }

    // The agent's VM of that id, if it has one.
    std::optional<agent::AgentVm> vm(const std::string& vm_id) const {
        for (const auto& known : agent->status().vms) {
            if (known.vm_id == vm_id) return known;
        }
        return std::nullopt;
    }

    // A journal file of this test's own.
    std::string journal_file() {
        options.state_file = (state_dir / "agent-state.json").string();
        return options.state_file;
    }

    boost::asio::io_context ioc;
    ManualClock clock;
    FakeOrchestratorLink link{ioc};
    FakeVmBackend backend{ioc};
    agent::AgentOptions options;
    std::unique_ptr<agent::Agent> agent;
    std::filesystem::path state_dir = std::filesystem::temp_directory_path() /
                                      ("macvmorx-agent-" + std::to_string(::getpid()) + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
};

} // namespace macvmorx::testing
