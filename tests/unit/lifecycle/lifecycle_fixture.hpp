#pragma once

// The fixture of the VM lifecycle tests: the orchestrator driven the way the daemon drives it,
// heartbeats from fake agents, client requests, a clock the test moves.

#include "fleet_builders.hpp"
#include "macvmorx/base/id_source.hpp"
#include "macvmorx/lifecycle/vm_lifecycle.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using macvmorx::protocol::Command;
using macvmorx::protocol::CommandType;
using macvmorx::lifecycle::EventOutcome;
using macvmorx::lifecycle::LifecycleOptions;
using macvmorx::lifecycle::RequestOutcome;
using macvmorx::protocol::VmEvent;
using macvmorx::lifecycle::VmFilter;
using macvmorx::lifecycle::VmSpec;
using macvmorx::protocol::VmState;
using macvmorx::orchestrator::Orchestrator;

namespace macvmorx::testing {

struct HostVm {
    std::string id;
    std::string image;
};

class LifecycleTest : public ::testing::Test {
protected:
    macvmorx::ManualClock clock;
    macvmorx::SequentialIdSource ids;
    std::unique_ptr<Orchestrator> orchestrator = make(LifecycleOptions{});
    std::map<std::string, std::string> agent_instance; // node -> what its heartbeats name (none by default)

    std::unique_ptr<Orchestrator> make(LifecycleOptions options) {
        return std::make_unique<Orchestrator>(macvmorx::orchestrator::OrchestratorOptions{30s, {2}, options, {}}, clock,
                                              ids);
    }

    // A heartbeat from a fake agent running `vms`; returns the commands in the answer.
    std::vector<Command> beat(const std::string& node_id, const std::vector<HostVm>& vms = {},
                              macvmorx::protocol::Labels labels = {}, double cpu = 10) {
        auto report = macvmorx::testing::heartbeat(node_id, {}, cpu);
        for (const auto& vm : vms) report.vms.push_back({vm.id, vm.image, 1, "runner", "192.168.64.2"});
        report.vm_count = static_cast<int>(vms.size());
        report.labels = std::move(labels);
        report.agent_instance = agent_instance[node_id];
        return orchestrator->record_heartbeat(std::move(report)).commands;
    }

    macvmorx::lifecycle::RequestResult request(const std::string& image, const std::string& vm_id = "",
                                               bool wait = false, macvmorx::protocol::Labels labels = {},
                                               std::optional<double> memory = {}) {
        VmSpec spec;
        spec.image_name = image;
        spec.labels = std::move(labels);
        spec.memory_gb = memory;
        return orchestrator->request_vm(vm_id, std::move(spec), wait);
    }

    std::string placed(const std::string& image = "sonoma") {
        const auto result = request(image);
        EXPECT_EQ(result.outcome, RequestOutcome::placed);
        return result.record ? result.record->vm_id : "";
    }

    VmState state(const std::string& vm_id) { return orchestrator->vm(vm_id)->state; }
    std::string node_of(const std::string& vm_id) { return orchestrator->vm(vm_id)->node_id; }

    static const Command* find(const std::vector<Command>& commands, CommandType type, const std::string& vm_id) {
        for (const auto& command : commands) {
            if (command.type == type && command.vm_id == vm_id) return &command;
        }
        return nullptr;
    }

    // An agent that takes its createVm command.
    void take(const std::string& node_id, const std::string& vm_id) {
        const auto commands = beat(node_id);
        const auto* create = find(commands, CommandType::create_vm, vm_id);
        ASSERT_NE(create, nullptr);
        ASSERT_TRUE(orchestrator->acknowledge_command(node_id, create->id));
    }
};

} // namespace macvmorx::testing

using macvmorx::testing::HostVm;
using macvmorx::testing::LifecycleTest;
