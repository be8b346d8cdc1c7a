// Starting a VM with tart: clone the image, configure the clone, `tart run` it, wait for its
// address and for SSH, then run the runner (or the start command) in the guest. The rest of the
// backend (images, a VM's end, inventory) is in tart_backend.cpp.

#include "macvmorx/agent/tart_backend.hpp"

#include "macvmorx/agent/tart_output.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <filesystem>

namespace macvmorx::agent {
namespace {

std::chrono::steady_clock::time_point steady_now() { return std::chrono::steady_clock::now(); }

} // namespace

// A VM on its way from `tart run` to a guest that answers SSH.
struct TartBackend::Boot {
    VmLaunch launch;
    Started done;
    std::string ip;
    boost::asio::steady_timer retry;
    Boot(boost::asio::io_context& ioc, VmLaunch l, Started d) : launch{std::move(l)}, done{std::move(d)}, retry{ioc} {}
};

void TartBackend::start_vm(const VmLaunch& launch, Started done) {
    // The cleanup of an earlier attempt of this VM would take the new clone, or its `tart run`.
    if (const auto deleting = deletions_.find(launch.vm_name); deleting != deletions_.end()) {
        deleting->second.waiting.push_back(
            [this, launch, done = std::move(done)]() mutable { start_vm(launch, std::move(done)); });
        return;
    }
    clone(launch, std::move(done));
}

void TartBackend::clone(const VmLaunch& launch, Started done) {
    run({options_.tart, "clone", tart_name(launch.image), launch.vm_name}, options_.command_timeout,
        [this, launch, done = std::move(done)](ProcessResult cloned) mutable {
            if (!cloned.ok()) return done(Outcome::failure(cloned.describe("tart clone " + launch.image)), {});
            // A fresh MAC address: a clone keeps its image's (Commands/Clone.swift makes a new one
            // only while another VM holds it), and DHCP would hand it a previous VM's lease.
            std::vector<std::string> set{options_.tart, "set", launch.vm_name};
            if (launch.cpu) set.insert(set.end(), {"--cpu", std::to_string(*launch.cpu)});
            if (launch.memory_gb) set.insert(set.end(), {"--memory", std::to_string(static_cast<long long>(*launch.memory_gb * 1024))});
            set.push_back("--random-mac");
            run(std::move(set), options_.command_timeout, [this, launch, done = std::move(done)](ProcessResult configured) mutable {
                if (!configured.ok()) return done(Outcome::failure(configured.describe("tart set " + launch.vm_name)), {});
                boot(launch, std::move(done));
            });
        });
}

void TartBackend::boot(const VmLaunch& launch, Started done) {
    const std::string name = launch.vm_name;
    auto& vm = running_[name];
    vm = Running{};
    vm.boot_deadline = steady_now() + options_.boot_timeout;
    const std::string output = log_file(name, "run");
    std::error_code ignored;
    std::filesystem::remove(output, ignored);
    // `tart run` lasts as long as the VM: its end is the VM's end. Its output goes to a file, so
    // that the VM outlives an agent that stops or dies.
    ProcessSpec spec = tart({"run", "--no-graphics", name});
    spec.output_file = output;
    spec.outlives_agent = true;
    vm.run = processes_.start(std::move(spec), [this, name](ProcessResult result) { run_ended(name, result); });
    wait_for_address(std::make_shared<Boot>(ioc_, launch, std::move(done)));
}

void TartBackend::wait_for_address(std::shared_ptr<Boot> boot) {
    const std::string name = boot->launch.vm_name;
    const auto left = running_[name].boot_deadline - steady_now();
    const auto seconds = std::max<long long>(1, std::chrono::duration_cast<std::chrono::seconds>(left).count());
    running_[name].booting = processes_.start(
        tart({"ip", "--wait", std::to_string(seconds), name}, std::chrono::seconds{seconds + 10}),
        [this, boot](ProcessResult result) {
            const auto it = running_.find(boot->launch.vm_name);
            if (it == running_.end() || it->second.deleting) return boot_failed(boot, "deleted while it booted");
            it->second.booting = 0;
            if (it->second.run_ended) return boot_failed(boot, "");
            if (!result.ok()) {
                return boot_failed(boot, result.describe("tart ip " + boot->launch.vm_name) +
                                             " (no DHCP lease within the boot timeout: a DHCP pool used up by "
                                             "day-long leases? docs/agent.md)");
            }
            boot->ip = last_line_of(result.output);
            const bool has_command = !boot->launch.runner_config.empty() || !options_.start_command.empty();
            if (!has_command) {
                it->second.started = true;
                return boot->done(Outcome::success(), {boot->ip, boot->launch.vm_name, GuestCommand::nothing});
            }
            wait_for_ssh(boot);
        });
}

// The address may be a lease of the VM before (IP.swift reads unexpired leases), and sshd starts
// late in a boot: SSH is tried until it answers or the boot timeout passes, as Cirrus Labs'
// executors do, and the runner starts only on a guest that answered.
void TartBackend::wait_for_ssh(std::shared_ptr<Boot> boot) {
    const std::string name = boot->launch.vm_name;
    running_[name].booting = processes_.start(
        {ssh_argv(boot->ip, "true", 5), {}, std::chrono::seconds{30}, {}},
        [this, boot](ProcessResult result) {
            const auto it = running_.find(boot->launch.vm_name);
            if (it == running_.end() || it->second.deleting) return boot_failed(boot, "deleted while it booted");
            it->second.booting = 0;
            if (it->second.run_ended) return boot_failed(boot, "");
            if (result.ok()) {
                const bool runner = !boot->launch.runner_config.empty();
                StartedVm started{boot->ip, boot->launch.vm_name, runner ? GuestCommand::runner : GuestCommand::start_script};
                it->second.started = true;
                run_in_guest(boot->launch.vm_name, boot->ip, runner ? options_.runner_command : options_.start_command,
                             runner ? boot->launch.runner_config + "\n" : std::string{}, runner);
                return boot->done(Outcome::success(), std::move(started));
            }
            const std::string said = last_line_of(result.errors.empty() ? result.output : result.errors);
            if (result.exit_code != ssh_connection_failed && !result.timed_out) {
                return boot_failed(boot, "the guest at " + boot->ip + " refused SSH: " + result.describe("ssh"));
            }
            if (steady_now() + options_.ssh_retry_interval >= it->second.boot_deadline) {
                const bool no_route = is_no_route_to_host(said);
                return boot_failed(boot,
                                   "the guest at " + boot->ip + " never answered SSH within the boot timeout: " + said +
                                       (no_route ? " (macOS's Local Network privacy refuses the agent's connections "
                                                   "to its VMs: docs/agent.md)"
                                                 : ""),
                                   no_route ? HostProblem::local_network_denied : HostProblem::none);
            }
            boot->retry.expires_after(options_.ssh_retry_interval);
            boot->retry.async_wait([this, boot, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
                if (ec || !alive.lock()) return;
                const auto vm = running_.find(boot->launch.vm_name);
                if (vm == running_.end() || vm->second.deleting) return boot_failed(boot, "deleted while it booted");
                if (vm->second.run_ended) return boot_failed(boot, "");
                wait_for_ssh(boot);
            });
        });
}

// A boot that did not make it. An empty `why`: `tart run` ended, and its words say why.
void TartBackend::boot_failed(const std::shared_ptr<Boot>& boot, std::string why, HostProblem problem) {
    const auto it = running_.find(boot->launch.vm_name);
    if (why.empty() && it != running_.end()) {
        const std::string& said = it->second.run_said;
        problem = host_problem_in(said);
        why = "tart run " + boot->launch.vm_name + " ended while the VM booted";
        if (const auto crash = vm_crash_in(said)) {
            why += ": " + *crash;
        } else if (const auto line = last_line_of(said); !line.empty()) {
            why += ": " + line;
        }
    }
    // The clone is of no use, and its `tart run` may hold a slot: it goes before the failure is
    // told, so that the agent never counts a free slot that is not.
    if (it == running_.end() || it->second.deleting) return boot->done(Outcome::failure(std::move(why), problem), {});
    delete_vm(boot->launch.vm_name, [boot, why = std::move(why), problem](Outcome) mutable {
        boot->done(Outcome::failure(std::move(why), problem), {});
    });
}

void TartBackend::run_in_guest(const std::string& vm_name, const std::string& ip, const std::string& command,
                               std::string input, bool runner) {
    const std::string output = log_file(vm_name, "guest");
    std::error_code ignored;
    std::filesystem::remove(output, ignored);
    // The runner (or script) runs as long as the job: when it exits, the VM's work is done. Its
    // output goes to a file, so that an agent that stops or dies does not break its pipe.
    ProcessSpec spec{ssh_argv(ip, command, 30), std::move(input), {}, {}};
    spec.output_file = output;
    spec.outlives_agent = true;
    auto& vm = running_[vm_name];
    vm.guest_at_work = true;
    vm.runner = runner;
    vm.guest = processes_.start(std::move(spec), [this, vm_name](ProcessResult result) { guest_ended(vm_name, result); });
}

std::vector<std::string> TartBackend::ssh_argv(const std::string& ip, const std::string& command, int connect_timeout) const {
    std::vector<std::string> ssh{options_.ssh,
                                 "-o", "StrictHostKeyChecking=no",
                                 "-o", "UserKnownHostsFile=/dev/null",
                                 "-o", "BatchMode=yes",
                                 "-o", "ConnectTimeout=" + std::to_string(connect_timeout),
                                 // A guest that vanished ends the session within a minute.
                                 "-o", "ServerAliveInterval=15",
                                 "-o", "ServerAliveCountMax=4"};
    if (!options_.guest_key_file.empty()) ssh.insert(ssh.end(), {"-i", options_.guest_key_file});
    ssh.push_back(options_.guest_user + "@" + ip);
    ssh.push_back(command);
    return ssh;
}

} // namespace macvmorx::agent
