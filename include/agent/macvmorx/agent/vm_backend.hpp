#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace macvmorx::agent {

// Something about the host, not about one VM, that makes VMs fail here until an operator acts
// (docs/agent.md, "Host prerequisites").
enum class HostProblem {
    none,
    vm_limit,             // macOS refuses another VM: its limit of two is held, by ghosts perhaps
    keychain_locked,      // Virtualization.framework needs an unlocked login keychain (macOS 15)
    local_network_denied, // macOS 15's Local Network privacy keeps SSH from the guests
};

// How a backend operation ended.
struct Outcome {
    bool ok = true;
    HostProblem problem = HostProblem::none; // of a failure
    std::string message; // why it failed, fit for an operator and an event

    static Outcome success() { return {}; }
    static Outcome failure(std::string why, HostProblem problem = HostProblem::none) {
        return {false, problem, std::move(why)};
    }
};

// What a new VM is made of.
struct VmLaunch {
    std::string vm_name; // the host's name for the clone: prefix + vmId
    std::string vm_id;
    std::string image;
    std::optional<int> cpu;
    std::optional<double> memory_gb;
    // A secret: the runner's one-time configuration, passed to the guest on standard input.
    std::string runner_config;
};

// What was started in a VM's guest once it booted.
enum class GuestCommand { nothing, runner, start_script };

struct StartedVm {
    std::string ip_address;
    std::string hostname;
    GuestCommand guest = GuestCommand::nothing;
};

struct HostImage {
    std::string name;
    double size_gb = 0;
};

struct HostVm {
    std::string name;
    bool running = false;
};

// What the host has when the agent starts: clones left by an earlier run, pulled images.
struct Inventory {
    std::vector<HostVm> vms;
    std::vector<HostImage> images;
};

// Makes and removes VMs on one host. Operations are asynchronous: each completion handler is
// called exactly once, on the agent's io_context. Implementations: Cirrus Labs' tart, and a
// simulated host for `macvmorx simulate` and the tests.
class VmBackend {
public:
    using Done = std::function<void(Outcome)>;
    using Progress = std::function<void(double fraction, const std::string& message)>;
    using Started = std::function<void(Outcome, StartedVm)>;

    virtual ~VmBackend() = default;

    // Fetches an image; its size on disk is image_size_gb's from then on.
    virtual void pull_image(const std::string& image, Progress progress, Done done) = 0;
    virtual void delete_image(const std::string& image, Done done) = 0;
    // The disk an image held on the host takes; 0 when it is not held.
    virtual double image_size_gb(const std::string& image) const = 0;
    // The disk a pull of `image` will take, as its source says before the pull (a registry's
    // manifest); 0 when that cannot be known.
    virtual void expected_size_gb(const std::string& image, std::function<void(double)> done) = 0;

    // Clones the image, boots the clone headless, waits for its IP and starts the runner.
    virtual void start_vm(const VmLaunch& launch, Started done) = 0;
    // Takes over a clone found running at the agent's start: learns its address and, with
    // `watch_runner`, watches the runner an earlier run started in its guest, whose end (or
    // absence) ends the VM through on_vm_exit.
    virtual void adopt_vm(const std::string& vm_name, bool watch_runner, Started done) = 0;
    // Stops and deletes a clone; a clone that does not exist counts as deleted.
    virtual void delete_vm(const std::string& vm_name, Done done) = 0;

    virtual void inventory(std::function<void(Outcome, Inventory)> done) = 0;

    // `handler(vm_name, how)` is called when a VM ends on its own: `how` succeeded when its
    // work is done (its runner finished its job, the guest shut down), failed when the VM
    // stopped as it should not have (tart run crashed), saying why.
    using Exited = std::function<void(const std::string& vm_name, const Outcome& how)>;
    virtual void on_vm_exit(Exited handler) = 0;
};

} // namespace macvmorx::agent
