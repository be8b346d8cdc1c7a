#pragma once

#include "macvmorx/agent/process_runner.hpp"
#include "macvmorx/agent/vm_backend.hpp"

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace boost::asio {
class io_context;
}

namespace macvmorx::agent {

struct TartOptions {
    std::string tart = "tart"; // the program, looked up in PATH
    std::string ssh = "ssh";
    std::string guest_user = "admin";
    std::string guest_key_file; // SSH private key for the guest; empty: ssh's defaults
    // What runs in the guest when a createVm carries a runner configuration, which arrives on
    // its standard input: GitHub's runner preinstalled in the golden image.
    std::string runner_command = "cd ~/actions-runner && read -r config && exec ./run.sh --jitconfig \"$config\"";
    // Pools without GitHub: a script to run in the guest instead (empty: none, the VM just runs).
    std::string start_command;
    // Lasts in the guest as long as a runner started by an earlier run of the agent: how a
    // restarted agent learns when the runner it did not start is done. The brackets keep
    // pgrep from matching the watching shell's own command line.
    std::string watch_command =
        "while pgrep -f '[R]unner.Listener|[r]un-helper.sh|[r]un.sh --jitconfig' >/dev/null; do sleep 5; done";
    Duration pull_timeout = std::chrono::hours{2};
    Duration command_timeout = std::chrono::minutes{5};
    Duration ip_timeout = std::chrono::minutes{3};
};

// VMs through Cirrus Labs' tart: `tart pull`, `clone`, `run --no-graphics`, `ip --wait`,
// `stop`, `delete`, `list --format json`, and the runner in the guest over SSH. Every command
// runs with an argument vector and a timeout; a failure becomes an Outcome that says which
// command failed and what it printed. The runner's configuration reaches the guest on SSH's
// standard input, never on a command line. A clone is made only once every deletion of its name
// under way is done (a VM placed again on this host comes after the cleanup of its attempt).
//
// Threading: called on the agent's io_context; completions are posted back to it.
class TartBackend final : public VmBackend {
public:
    TartBackend(boost::asio::io_context& ioc, TartOptions options);
    ~TartBackend() override;

    void pull_image(const std::string& image, Progress progress, Done done) override;
    void delete_image(const std::string& image, Done done) override;
    double image_size_gb(const std::string& image) const override;
    void start_vm(const VmLaunch& launch, Started done) override;
    void adopt_vm(const std::string& vm_name, bool watch_runner, Started done) override;
    void delete_vm(const std::string& vm_name, Done done) override;
    void inventory(std::function<void(Outcome, Inventory)> done) override;
    void on_vm_exit(Exited handler) override;

private:
    struct Running {
        std::uint64_t run = 0;   // `tart run`
        std::uint64_t guest = 0; // the runner or start script over SSH
        std::uint64_t ip = 0;    // `tart ip --wait`, while the VM boots
        bool started = false;    // booted and handed to the agent: its end is news
        bool deleting = false;
    };
    void run(std::vector<std::string> argv, Duration timeout, ProcessRunner::Done done, std::string input = {},
             std::function<void(const std::string&)> on_output = {});
    void wait_for_ip(const VmLaunch& launch, Started done);
    void start_in_guest(const VmLaunch& launch, StartedVm started, Started done);
    // Runs `command` in the guest at `ip` over SSH for as long as it lasts; its end ends the VM.
    void run_in_guest(const std::string& vm_name, const std::string& ip, const std::string& command, std::string input);
    void ended(const std::string& vm_name, const Outcome& how);
    void deletion_done(const std::string& vm_name);

    // Deletions of a clone name under way, and the starts that wait for them to end.
    struct Deletion {
        int under_way = 0;
        std::vector<std::function<void()>> waiting;
    };

    boost::asio::io_context& ioc_;
    TartOptions options_;
    ProcessRunner processes_;
    std::map<std::string, Running> running_;
    std::map<std::string, double> image_sizes_;
    std::map<std::string, std::string> last_run_output_; // what `tart run` said when it ended early
    std::map<std::string, Deletion> deletions_;          // clone name -> deletions of it under way
    Exited exit_handler_;
};

// Whether tart's output says macOS refused another VM: its limit of two is held.
bool is_vm_limit_error(const std::string& output);

// The percentage a line of `tart pull`'s output gives ("42%", escape codes around it on a
// terminal); nullopt for any other line.
std::optional<int> pull_percent(std::string_view line);

} // namespace macvmorx::agent
