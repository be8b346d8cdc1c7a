#pragma once

#include "macvmorx/agent/bucket_images.hpp"
#include "macvmorx/agent/process_runner.hpp"
#include "macvmorx/agent/vm_backend.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace boost::asio {
class io_context;
}

namespace macvmorx::agent {

class RegistryClient;

struct TartOptions {
    std::string tart = "tart"; // the program, looked up in PATH
    std::string ssh = "ssh";
    std::string guest_user = "admin";
    std::string guest_key_file; // SSH private key for the guest; empty: ssh's defaults
    // What runs in the guest when a createVm carries a runner configuration, which arrives on
    // its standard input: GitHub's runner preinstalled in the golden image. The listener itself,
    // not run.sh, whose helper turns its exit statuses 1, 5 and 7 into 0 (actions/runner's
    // run-helper.sh.template); the configuration in its environment, where the runner reads
    // ACTIONS_RUNNER_INPUT_JITCONFIG (CommandSettings.cs), never on a command line `ps` shows.
    // A deprecated runner exits 7 rather than 1 only when asked to (Program.cs).
    std::string runner_command = "cd ~/actions-runner && read -r config && export ACTIONS_RUNNER_INPUT_JITCONFIG=\"$config\" "
                                 "ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE=1 && exec ./bin/Runner.Listener run";
    // Pools without GitHub: a script to run in the guest instead (empty: none, the VM just runs).
    std::string start_command;
    // Lasts in the guest as long as a runner started by an earlier run of the agent: how a
    // restarted agent learns when the runner it did not start is done. The brackets keep
    // pgrep from matching the watching shell's own command line.
    std::string watch_command =
        "while pgrep -f '[R]unner.Listener|[r]un-helper.sh|[r]un.sh --jitconfig' >/dev/null; do sleep 5; done";
    Duration pull_timeout = std::chrono::hours{2};
    Duration command_timeout = std::chrono::minutes{5};
    // From `tart run` to a guest that answers SSH: an address from DHCP, then sshd up.
    Duration boot_timeout = std::chrono::minutes{3};
    // Between SSH attempts while the guest boots.
    Duration ssh_retry_interval = std::chrono::seconds{2};
    // Where `tart run` and the command in the guest write their output, a file per VM: with no
    // pipe to the agent they outlive it (an upgrade, a crash) and the next agent takes them over.
    std::string vm_log_dir;
    // Where images from storage buckets download (resumable parts) before `tart import`.
    std::string image_download_dir;
    // Keep each bucket image's verified archive, to serve it to the lab's peers, and whom to
    // fetch one from first (bucket_images.hpp).
    bool keep_image_seeds = false;
    std::function<object_store::PeerOffer(const std::string& image)> find_image_peers;
};

// VMs through Cirrus Labs' tart: `tart pull` (or a bucket object's download and `tart import`
// under its local name, bucket_images.hpp), `clone`, `set --random-mac`, `run --no-graphics`,
// `ip --wait`, `stop`, `delete`, `list --format json`, `fqn`, and the runner in the guest over
// SSH. Every command runs with an argument vector, a timeout and TART_NO_AUTO_PRUNE (the agent
// owns the image cache: tart must not delete images behind its back, Commands/Prune.swift); a
// failure becomes an Outcome that says which command failed and what it printed. The runner's
// configuration reaches the guest on SSH's standard input, never on a command line. A clone is
// made only once every deletion of its name under way is done (a VM placed again on this host
// comes after the cleanup of its attempt). A VM counts as started once its guest answers SSH:
// an address from DHCP may be a previous VM's lease (Commands/IP.swift), so SSH is tried until
// the boot timeout.
//
// Threading: called on the agent's io_context; completions are posted back to it.
class TartBackend final : public VmBackend {
public:
    // `registry` (may be null) tells an image's size before it is pulled.
    TartBackend(boost::asio::io_context& ioc, TartOptions options, std::shared_ptr<RegistryClient> registry = nullptr);
    ~TartBackend() override;

    void pull_image(const std::string& image, Progress progress, Done done) override;
    void delete_image(const std::string& image, Done done) override;
    double image_size_gb(const std::string& image) const override;
    // The verified archive and chunk manifest of a bucket image this Mac serves to its peers,
    // when it keeps one (keep_image_seeds). Any thread.
    std::optional<SeedFiles> image_seed(const std::string& image) const;
    void expected_size_gb(const std::string& image, std::function<void(double)> done) override;
    void start_vm(const VmLaunch& launch, Started done) override;
    void adopt_vm(const std::string& vm_name, bool watch_runner, Started done) override;
    void delete_vm(const std::string& vm_name, Done done) override;
    void inventory(std::function<void(Outcome, Inventory)> done) override;
    void on_vm_exit(Exited handler) override;

private:
    struct Running {
        std::uint64_t run = 0;       // `tart run`
        std::uint64_t guest = 0;     // the runner, start script or watch over SSH
        std::uint64_t booting = 0;   // `tart ip --wait` or an SSH attempt, while the VM boots
        bool run_ended = false;      // `tart run` exited: the VM is gone
        std::string run_said;        // what `tart run` printed, once it exited
        bool guest_at_work = false;  // the command in the guest runs
        bool runner = false;         // that command is GitHub's runner: its exit statuses mean something
        bool started = false;        // booted and handed to the agent: its end is news
        bool deleting = false;
        std::chrono::steady_clock::time_point boot_deadline;
    };
    struct Boot;
    struct Deletion {
        int under_way = 0;
        std::vector<std::function<void()>> waiting;
    };

    void pull_from_bucket(const std::string& image, Progress progress, Done done);
    // The name tart knows `image` by: a bucket object's local VM name, else the image's own.
    std::string tart_name(const std::string& image) const;
    // A process spec for `tart ARGUMENTS...` with the environment every tart gets.
    ProcessSpec tart(std::vector<std::string> arguments, Duration timeout = {}) const;
    void run(std::vector<std::string> argv, Duration timeout, ProcessRunner::Done done,
             std::function<void(const std::string&)> on_output = {});
    void clone(const VmLaunch& launch, Started done);
    void boot(const VmLaunch& launch, Started done);
    void wait_for_address(std::shared_ptr<Boot> boot);
    void wait_for_ssh(std::shared_ptr<Boot> boot);
    void boot_failed(const std::shared_ptr<Boot>& boot, std::string why, HostProblem problem = HostProblem::none);
    void run_ended(const std::string& vm_name, const ProcessResult& result);
    void guest_ended(const std::string& vm_name, const ProcessResult& result);
    // Runs `command` in the guest at `ip` over SSH for as long as it lasts; its end ends the VM.
    void run_in_guest(const std::string& vm_name, const std::string& ip, const std::string& command, std::string input,
                      bool runner);
    std::vector<std::string> ssh_argv(const std::string& ip, const std::string& command, int connect_timeout) const;
    std::string log_file(const std::string& vm_name, const char* what) const;
    void ended(const std::string& vm_name, const Outcome& how);
    void deletion_done(const std::string& vm_name);
    void pair_tags(std::vector<std::string> tags, std::map<std::string, bool> digests, Inventory inventory,
                   std::function<void(Outcome, Inventory)> done);

    boost::asio::io_context& ioc_;
    TartOptions options_;
    std::shared_ptr<RegistryClient> registry_;
    ProcessRunner processes_;
    std::unique_ptr<BucketImages> buckets_;
    std::map<std::string, Running> running_;
    std::map<std::string, double> image_sizes_;   // image_key -> GB on disk, of the images held
    std::map<std::string, Deletion> deletions_;   // clone name -> deletions of it under way
    Exited exit_handler_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

} // namespace macvmorx::agent
