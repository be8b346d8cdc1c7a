#include "macvmorx/agent/tart_backend.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

namespace macvmorx::agent {

std::optional<int> pull_percent(std::string_view line) {
    std::string text;
    for (std::size_t i = 0; i < line.size(); ++i) {
        if (line[i] == '\x1B') {
            // An escape sequence of the interactive meter (ESC [ K): skip to its final letter.
            while (i < line.size() && !std::isalpha(static_cast<unsigned char>(line[i]))) ++i;
            continue;
        }
        if (!std::isspace(static_cast<unsigned char>(line[i]))) text += line[i];
    }
    if (text.size() < 2 || text.size() > 4 || text.back() != '%') return std::nullopt;
    int percent = 0;
    for (std::size_t i = 0; i + 1 < text.size(); ++i) {
        if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
        percent = percent * 10 + (text[i] - '0');
    }
    if (percent > 100) return std::nullopt;
    return percent;
}

bool is_vm_limit_error(const std::string& output) {
    std::string lower = output;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    // Virtualization.framework: "The number of virtual machines exceeds the limit the system supports."
    return lower.find("exceeds the limit") != std::string::npos || lower.find("vm limit") != std::string::npos ||
           lower.find("number of virtual machines") != std::string::npos;
}

namespace {

// tart prints the address on its last line.
std::string last_line(std::string text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    if (const auto newline = text.rfind('\n'); newline != std::string::npos) text = text.substr(newline + 1);
    return text;
}

} // namespace

TartBackend::TartBackend(boost::asio::io_context& ioc, TartOptions options)
    : ioc_{ioc}, options_{std::move(options)}, processes_{ioc} {}

TartBackend::~TartBackend() = default;

void TartBackend::run(std::vector<std::string> argv, Duration timeout, ProcessRunner::Done done, std::string input,
                      std::function<void(const std::string&)> on_output) {
    processes_.start({std::move(argv), std::move(input), timeout, std::move(on_output)}, std::move(done));
}

void TartBackend::pull_image(const std::string& image, Progress progress, Done done) {
    progress(0, "pulling " + image);
    // tart's percentages come line by line while it pulls; a line may arrive in two pieces.
    auto meter = [progress, image, partial = std::string{}](const std::string& piece) mutable {
        partial += piece;
        std::size_t start = 0;
        for (std::size_t newline; (newline = partial.find('\n', start)) != std::string::npos; start = newline + 1) {
            const auto percent = pull_percent(std::string_view{partial}.substr(start, newline - start));
            // Done only when tart exits: the image is not usable before.
            if (percent) progress(std::min(*percent, 99) / 100.0, "pulling " + image + ": " + std::to_string(*percent) + "%");
        }
        partial.erase(0, start);
        if (partial.size() > 4096) partial.clear(); // not a meter: a line that long says nothing of progress
    };
    run({options_.tart, "pull", image}, options_.pull_timeout,
        [this, image, done = std::move(done)](ProcessResult result) {
            if (!result.ok()) return done(Outcome::failure(result.describe("tart pull " + image)));
            // The size is learnt from `tart list`.
            inventory([done](Outcome, Inventory) { done(Outcome::success()); });
        },
        {}, std::move(meter));
}

void TartBackend::delete_image(const std::string& image, Done done) {
    run({options_.tart, "delete", image}, options_.command_timeout, [this, image, done = std::move(done)](ProcessResult result) {
        if (!result.ok()) return done(Outcome::failure(result.describe("tart delete " + image)));
        image_sizes_.erase(image);
        done(Outcome::success());
    });
}

double TartBackend::image_size_gb(const std::string& image) const {
    const auto it = image_sizes_.find(image);
    return it == image_sizes_.end() ? 0 : it->second;
}

void TartBackend::start_vm(const VmLaunch& launch, Started done) {
    // The cleanup of an earlier attempt of this VM would take the new clone, or its `tart run`.
    if (const auto deleting = deletions_.find(launch.vm_name); deleting != deletions_.end()) {
        deleting->second.waiting.push_back(
            [this, launch, done = std::move(done)]() mutable { start_vm(launch, std::move(done)); });
        return;
    }
    const std::string name = launch.vm_name;
    run({options_.tart, "clone", launch.image, name}, options_.command_timeout,
        [this, launch, done = std::move(done)](ProcessResult cloned) mutable {
            if (!cloned.ok()) return done(Outcome::failure(cloned.describe("tart clone " + launch.image)), {});
            std::vector<std::string> set{options_.tart, "set", launch.vm_name};
            if (launch.cpu) set.insert(set.end(), {"--cpu", std::to_string(*launch.cpu)});
            if (launch.memory_gb) set.insert(set.end(), {"--memory", std::to_string(static_cast<long long>(*launch.memory_gb * 1024))});
            auto boot = [this, launch, done = std::move(done)](ProcessResult configured) mutable {
                if (!configured.ok()) return done(Outcome::failure(configured.describe("tart set " + launch.vm_name)), {});
                auto& vm = running_[launch.vm_name];
                vm.deleting = false;
                // `tart run` lasts as long as the VM: its end is the VM's end.
                vm.run = processes_.start({{options_.tart, "run", "--no-graphics", launch.vm_name}, {}, {}, {}},
                                          [this, name = launch.vm_name](ProcessResult result) {
                                              const auto it = running_.find(name);
                                              if (it == running_.end()) return;
                                              it->second.run = 0;
                                              if (!it->second.deleting) last_run_output_[name] = result.output;
                                              // Ended while booting (refused, crashed): no IP will come.
                                              if (it->second.ip != 0) processes_.kill(it->second.ip);
                                              // Exit status 0: the guest shut down. Anything else: it crashed.
                                              ended(name, result.ok() ? Outcome::success()
                                                                      : Outcome::failure(result.describe("tart run " + name)));
                                          });
                wait_for_ip(launch, std::move(done));
            };
            if (set.size() == 3) {
                ProcessResult nothing_to_set;
                nothing_to_set.exit_code = 0;
                return boot(nothing_to_set);
            }
            run(std::move(set), options_.command_timeout, std::move(boot));
        });
}

void TartBackend::wait_for_ip(const VmLaunch& launch, Started done) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(options_.ip_timeout).count();
    running_[launch.vm_name].ip = processes_.start(
        {{options_.tart, "ip", "--wait", std::to_string(seconds), launch.vm_name}, {}, options_.ip_timeout + std::chrono::seconds{10}, {}},
        [this, launch, done = std::move(done)](ProcessResult result) mutable {
            if (const auto it = running_.find(launch.vm_name); it != running_.end()) it->second.ip = 0;
            if (!result.ok()) {
                // tart run may have failed at once: its words say more (the VM limit among them).
                const auto run_output = last_run_output_.find(launch.vm_name);
                const std::string said = run_output == last_run_output_.end() ? result.output : run_output->second;
                const bool limit = is_vm_limit_error(said) || is_vm_limit_error(result.output);
                ProcessResult described = result;
                if (run_output != last_run_output_.end()) described.output = run_output->second;
                return done(Outcome::failure(described.describe("tart run " + launch.vm_name), limit), {});
            }
            StartedVm started{last_line(result.output), launch.vm_name, GuestCommand::nothing};
            start_in_guest(launch, std::move(started), std::move(done));
        });
}

void TartBackend::start_in_guest(const VmLaunch& launch, StartedVm started, Started done) {
    const bool runner = !launch.runner_config.empty();
    const std::string& command = runner ? options_.runner_command : options_.start_command;
    running_[launch.vm_name].started = true;
    if (command.empty()) return done(Outcome::success(), std::move(started));
    started.guest = runner ? GuestCommand::runner : GuestCommand::start_script;
    run_in_guest(launch.vm_name, started.ip_address, command, runner ? launch.runner_config + "\n" : std::string{});
    done(Outcome::success(), std::move(started));
}

void TartBackend::run_in_guest(const std::string& vm_name, const std::string& ip, const std::string& command,
                               std::string input) {
    std::vector<std::string> ssh{options_.ssh,
                                 "-o", "StrictHostKeyChecking=no",
                                 "-o", "UserKnownHostsFile=/dev/null",
                                 "-o", "BatchMode=yes",
                                 "-o", "ConnectTimeout=30"};
    if (!options_.guest_key_file.empty()) ssh.insert(ssh.end(), {"-i", options_.guest_key_file});
    ssh.push_back(options_.guest_user + "@" + ip);
    ssh.push_back(command);
    // The runner (or script) runs as long as the job: when it exits, the VM's work is done.
    running_[vm_name].guest = processes_.start({std::move(ssh), std::move(input), {}, {}}, [this, vm_name](ProcessResult result) {
        const auto it = running_.find(vm_name);
        if (it == running_.end()) return;
        it->second.guest = 0;
        spdlog::info("VM {}: {}", vm_name, result.describe("the guest's command"));
        ended(vm_name, Outcome::success());
    });
}

void TartBackend::adopt_vm(const std::string& vm_name, bool watch_runner, Started done) {
    running_[vm_name].deleting = false;
    run({options_.tart, "ip", vm_name}, options_.command_timeout,
        [this, vm_name, watch_runner, done = std::move(done)](ProcessResult result) {
            const auto it = running_.find(vm_name);
            if (it == running_.end() || it->second.deleting) return done(Outcome::failure("deleted meanwhile"), {});
            if (!result.ok()) return done(Outcome::failure(result.describe("tart ip " + vm_name)), {});
            StartedVm started{last_line(result.output), vm_name, GuestCommand::nothing};
            it->second.started = true;
            if (watch_runner) {
                started.guest = GuestCommand::runner;
                run_in_guest(vm_name, started.ip_address, options_.watch_command, {});
            }
            done(Outcome::success(), std::move(started));
        });
}

// The VM stopped, or its runner exited: tell the agent once, unless it is being deleted.
void TartBackend::ended(const std::string& vm_name, const Outcome& how) {
    const auto it = running_.find(vm_name);
    if (it == running_.end() || it->second.deleting || !it->second.started) return;
    if (!how.ok) spdlog::warn("VM {} stopped on its own: {}", vm_name, how.message);
    it->second.deleting = true; // the agent deletes it next
    if (exit_handler_) exit_handler_(vm_name, how);
}

void TartBackend::delete_vm(const std::string& vm_name, Done done) {
    ++deletions_[vm_name].under_way;
    auto& vm = running_[vm_name];
    vm.deleting = true;
    if (vm.guest != 0) processes_.kill(vm.guest);
    run({options_.tart, "stop", vm_name}, options_.command_timeout, [this, vm_name, done = std::move(done)](ProcessResult) {
        // Stopping a VM that is not running fails: only the deletion decides.
        run({options_.tart, "delete", vm_name}, options_.command_timeout, [this, vm_name, done](ProcessResult deleted) {
            const auto it = running_.find(vm_name);
            if (it != running_.end() && it->second.run != 0) processes_.kill(it->second.run);
            running_.erase(vm_name);
            last_run_output_.erase(vm_name);
            const bool gone = deleted.ok() || deleted.output.find("does not exist") != std::string::npos;
            done(gone ? Outcome::success() : Outcome::failure(deleted.describe("tart delete " + vm_name)));
            deletion_done(vm_name);
        });
    });
}

void TartBackend::deletion_done(const std::string& vm_name) {
    const auto it = deletions_.find(vm_name);
    if (it == deletions_.end() || --it->second.under_way > 0) return;
    const auto waiting = std::move(it->second.waiting);
    deletions_.erase(it);
    for (const auto& start : waiting) start();
}

void TartBackend::inventory(std::function<void(Outcome, Inventory)> done) {
    run({options_.tart, "list", "--format", "json"}, options_.command_timeout, [this, done = std::move(done)](ProcessResult result) {
        if (!result.ok()) return done(Outcome::failure(result.describe("tart list")), {});
        const auto document = nlohmann::json::parse(result.output, nullptr, false);
        if (!document.is_array()) return done(Outcome::failure("tart list: not a JSON array"), {});
        Inventory inventory;
        for (const auto& item : document) {
            if (!item.is_object()) continue;
            const std::string name = item.value("Name", "");
            if (name.empty()) continue;
            if (item.value("Source", "local") == "OCI") {
                const double size = item.contains("Size") && item["Size"].is_number() ? item["Size"].get<double>() : 0;
                image_sizes_[name] = size;
                inventory.images.push_back({name, size});
            } else {
                const bool running = item.value("Running", false) || item.value("State", "") == "running";
                inventory.vms.push_back({name, running});
            }
        }
        done(Outcome::success(), std::move(inventory));
    });
}

void TartBackend::on_vm_exit(Exited handler) { exit_handler_ = std::move(handler); }

} // namespace macvmorx::agent
