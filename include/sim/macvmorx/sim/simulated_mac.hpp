#pragma once

#include "macvmorx/agent/host_probe.hpp"
#include "macvmorx/agent/vm_backend.hpp"
#include "macvmorx/base/clock.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace macvmorx::sim {

// How simulated Macs behave: how fast they download, boot and finish jobs, and how often things
// go wrong.
struct SimulationProfile {
    double bandwidth_mbps = 1000;                 // image downloads take size / bandwidth
    Duration boot_time = std::chrono::seconds{20}; // mean; each boot varies by +-50%
    Duration job_runtime = std::chrono::minutes{5}; // mean time a runner works before its VM ends
    double pull_failure_rate = 0;  // share of pulls that fail
    double boot_failure_rate = 0;  // share of boots that fail
    double ghost_rate = 0;         // share of deletions that leave a ghost holding one of macOS's two VM slots
    std::map<std::string, double> image_sizes_gb;
    double default_image_gb = 30;
};

// The hardware of one simulated Mac.
struct MacModel {
    double memory_total_gb = 32;
    double disk_total_gb = 1000;
    double idle_cpu_percent = 4;
};

// One Mac Mini in simulation: VMs that take time to download, boot and run a job, disk filled by
// images, CPU and memory that follow the VMs. It is the agent's backend and host probe at once.
// macOS's limit of two running VMs is enforced, ghosts included.
//
// Threading: one io_context thread, like the agent that drives it.
class SimulatedMac final : public agent::VmBackend, public agent::HostProbe {
public:
    SimulatedMac(boost::asio::io_context& ioc, const SimulationProfile& profile, MacModel model, std::uint64_t seed);
    ~SimulatedMac() override;

    // Images on disk before the agent starts (a lab's Macs rarely start empty).
    void preload_image(const std::string& image);
    // The Mac loses power: its VMs and operations under way vanish; images stay on disk.
    void crash();

    // agent::VmBackend
    void pull_image(const std::string& image, Progress progress, Done done) override;
    void delete_image(const std::string& image, Done done) override;
    double image_size_gb(const std::string& image) const override;
    void expected_size_gb(const std::string& image, std::function<void(double)> done) override;
    void start_vm(const agent::VmLaunch& launch, Started done) override;
    void adopt_vm(const std::string& vm_name, bool watch_runner, Started done) override;
    void delete_vm(const std::string& vm_name, Done done) override;
    void inventory(std::function<void(agent::Outcome, agent::Inventory)> done) override;
    void on_vm_exit(Exited handler) override;

    // agent::HostProbe
    agent::HostFigures sample() override;

    int running_vms() const;
    // Image downloads started so far.
    int pulls() const { return pulls_; }

private:
    struct Vm {
        std::string image;
        bool running = false;
        agent::StartedVm address;
    };

    // The size of an image in this lab's registry.
    double profile_size_gb(const std::string& image) const;
    // Runs `then` after `delay`, unless the Mac crashed meanwhile.
    void after(Duration delay, std::function<void()> then);
    Duration vary(Duration mean, double spread);
    bool chance(double probability);

    boost::asio::io_context& ioc_;
    const SimulationProfile& profile_;
    MacModel model_;
    std::mt19937_64 random_;
    std::map<std::string, double> images_; // on disk: name -> GB
    std::map<std::string, Vm> vms_;        // by clone name
    int ghosts_ = 0;
    int pulls_ = 0;
    std::uint64_t generation_ = 0; // bumped by a crash: pending completions of the old one are dropped
    Exited exit_handler_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

} // namespace macvmorx::sim
