#include "macvmorx/agent/agent.hpp"

#include "macvmorx/agent/host_probe.hpp"
#include "macvmorx/agent/oci_name.hpp"
#include "macvmorx/agent/orchestrator_link.hpp"
#include "macvmorx/agent/vm_backend.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

namespace macvmorx::agent {
namespace {

using protocol::CommandType;
using protocol::VmState;

constexpr std::size_t remembered_commands = 512;

// Names from the network become arguments of host commands: refuse what could read as an option.
bool safe_name(const std::string& name) {
    return !name.empty() && name.front() != '-' &&
           std::none_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x21; });
}


// Random, not derived from the seed: two runs of a test with one seed are still two instances.
std::string new_instance_id() {
    std::random_device device;
    const std::uint64_t bits = (std::uint64_t{device()} << 32) ^ device();
    return fmt::format("{:016x}", bits);
}

} // namespace

std::string heartbeat_status_reason(const std::string& reason) {
    std::string text = reason;
    for (char& c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7F) c = ' ';
    }
    if (text.size() <= 512) return text;
    std::size_t cut = 512;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut; // not inside a character
    return text.substr(0, cut);
}

struct Agent::Timers {
    explicit Timers(boost::asio::io_context& ioc) : heartbeat{ioc}, poll{ioc}, inventory{ioc} {}
    boost::asio::steady_timer heartbeat;
    boost::asio::steady_timer poll;
    boost::asio::steady_timer inventory;
};

Agent::Agent(boost::asio::io_context& ioc, AgentOptions options, OrchestratorLink& link, VmBackend& backend,
             HostProbe& probe, const Clock& clock)
    : options_{std::move(options)},
      link_{link},
      backend_{backend},
      probe_{probe},
      clock_{clock},
      timers_{std::make_unique<Timers>(ioc)},
      alive_{std::make_shared<bool>(true)},
      cache_{options_.max_cached_images, options_.min_free_disk_gb},
      journal_{options_.state_file},
      instance_{new_instance_id()},
      random_{options_.seed} {}

Agent::~Agent() { stop(); }

void Agent::start() {
    if (started_) return;
    started_ = true;
    backend_.on_vm_exit(guard([this](const std::string& name, const Outcome& how) { on_vm_exit(name, how); }));
    list_the_host();
}

// Until the host's clones and images are known, the agent reports the Mac degraded (an empty
// list would read as free slots) and asks again.
void Agent::list_the_host() {
    backend_.inventory(guard([this](Outcome outcome, Inventory inventory) {
        if (outcome.ok) {
            if (!inventory_problem_.empty()) spdlog::info("agent {}: the host's VMs and images are known again", options_.node_id);
            inventory_problem_.clear();
            return take_stock(inventory);
        }
        const bool first = inventory_problem_.empty();
        inventory_problem_ = "cannot list the host's VMs and images: " + outcome.message;
        if (first) {
            spdlog::error("agent {}: {}; reporting the node as degraded and trying again", options_.node_id,
                          inventory_problem_);
            send_heartbeat();
        }
        timers_->inventory.expires_after(std::max<Duration>(options_.heartbeat_interval, std::chrono::seconds{5}));
        timers_->inventory.async_wait(guard([this](boost::system::error_code ec) {
            if (!ec) list_the_host();
        }));
    }));
}

// What an earlier run left: images join the cache; clones named by our prefix are adopted when
// they run a VM the journal knows as running (or that the journal does not know), and deleted
// otherwise. A start cut short is reported failed before the first heartbeat, so that the VM is
// placed again and that report cannot reach a later attempt.
void Agent::take_stock(const Inventory& inventory) {
    const TimePoint now = clock_.now();
    const auto journal = journal_.load_all();
    // Images as the pools named them before the restart, and the sizes of images seen before.
    for (const auto& image : journal.images) known_images_[image_key(image.name)] = image;
    for (const auto& image : inventory.images) {
        const auto known = known_images_.find(image_key(image.name));
        cache_.add(known == known_images_.end() ? image.name : known->second.name, image.size_gb,
                   now - std::chrono::hours{1});
        know_image(known == known_images_.end() ? image.name : known->second.name, image.size_gb);
    }
    std::map<std::string, JournalEntry> remembered;
    for (const auto& entry : journal.vms) remembered.emplace(entry.vm_id, entry);

    std::vector<std::string> interrupted;
    for (const auto& vm : inventory.vms) {
        if (!vm.name.starts_with(options_.vm_name_prefix)) continue;
        const std::string vm_id = vm.name.substr(options_.vm_name_prefix.size());
        const auto it = remembered.find(vm_id);
        const JournalEntry* entry = it == remembered.end() ? nullptr : &it->second;
        if (vm.running && (entry == nullptr || entry->stage == JournalEntry::Stage::running)) {
            adopt(vm.name, vm_id, entry);
            continue;
        }
        spdlog::info("agent {}: removing VM {} left {} by an earlier run", options_.node_id, vm_id,
                     entry != nullptr && entry->stage == JournalEntry::Stage::deleting ? "being deleted" : "half made");
        backend_.delete_vm(vm.name, [](Outcome) {});
        // Booting, or cloned: its runner never started, and its one-time configuration is gone.
        if (entry == nullptr || entry->stage == JournalEntry::Stage::starting) interrupted.push_back(vm_id);
    }
    remember();
    if (interrupted.empty()) return send_heartbeat();
    auto unanswered = std::make_shared<std::size_t>(interrupted.size());
    for (const auto& vm_id : interrupted) {
        report(vm_id, static_cast<int>(VmState::failed), "the agent restarted while making this VM", {},
               [this, unanswered] {
                   if (--*unanswered == 0) send_heartbeat();
               });
    }
}

void Agent::adopt(const std::string& vm_name, const std::string& vm_id, const JournalEntry* remembered) {
    AgentVm adopted;
    adopted.vm_id = vm_id;
    adopted.phase = AgentVm::Phase::running;
    adopted.adopted = true;
    adopted.started_at = remembered != nullptr ? remembered->started_at : clock_.now();
    if (remembered != nullptr) {
        adopted.image = remembered->image;
        adopted.guest = remembered->guest;
    }
    if (!adopted.image.empty() && cache_.contains(adopted.image)) hold_image(adopted);
    const bool watch_runner = adopted.guest == GuestCommand::runner;
    vms_.emplace(vm_id, std::move(adopted));
    // A VM from before a restart: reported, and the orchestrator says whether it is still wanted.
    spdlog::info("agent {}: found VM {} running from before a restart{}", options_.node_id, vm_id,
                 remembered == nullptr ? " (not in the journal: its image and runner are unknown)"
                 : watch_runner        ? "; watching its runner"
                                       : "");
    backend_.adopt_vm(vm_name, watch_runner, guard([this, vm_id](Outcome outcome, StartedVm started) {
        const auto it = vms_.find(vm_id);
        if (it == vms_.end() || it->second.phase != AgentVm::Phase::running) return;
        if (!outcome.ok) {
            spdlog::warn("agent {}: VM {} found running cannot be taken over: {}; deleting it", options_.node_id, vm_id,
                         outcome.message);
            return remove(vm_id);
        }
        it->second.ip_address = started.ip_address;
        it->second.hostname = started.hostname;
    }));
}

void Agent::remember() {
    if (!journal_.enabled()) return;
    std::vector<JournalEntry> entries;
    for (const auto& [id, vm] : vms_) {
        JournalEntry entry;
        switch (vm.phase) {
        case AgentVm::Phase::waiting_for_image: continue; // no clone yet: nothing to find after a restart
        case AgentVm::Phase::starting: entry.stage = JournalEntry::Stage::starting; break;
        case AgentVm::Phase::running: entry.stage = JournalEntry::Stage::running; break;
        case AgentVm::Phase::deleting: entry.stage = JournalEntry::Stage::deleting; break;
        }
        entry.vm_id = id;
        entry.image = vm.image;
        entry.guest = vm.guest;
        entry.started_at = vm.started_at;
        entries.push_back(std::move(entry));
    }
    std::vector<JournalImage> images;
    for (const auto& [key, image] : known_images_) images.push_back(image);
    journal_.save(entries, images);
}

void Agent::know_image(const std::string& name, double size_gb) {
    if (size_gb <= 0) return;
    known_images_[image_key(name)] = {name, size_gb};
    // A bound, for hosts that see many images over the months: the smallest go first.
    while (known_images_.size() > 64) {
        known_images_.erase(std::min_element(known_images_.begin(), known_images_.end(), [](const auto& a, const auto& b) {
            return a.second.size_gb < b.second.size_gb;
        }));
    }
}

double Agent::known_size_gb(const std::string& image) const {
    const auto it = known_images_.find(image_key(image));
    return it == known_images_.end() ? 0 : it->second.size_gb;
}

void Agent::hold_image(AgentVm& vm) {
    if (vm.holds_image) return;
    cache_.acquire(vm.image, clock_.now());
    // Named from now on as this VM's pool names it.
    if (const auto known = known_images_.find(image_key(vm.image)); known != known_images_.end()) known->second.name = vm.image;
    vm.holds_image = true;
}

void Agent::let_go_of_image(AgentVm& vm) {
    if (!vm.holds_image) return;
    cache_.release(vm.image, clock_.now());
    vm.holds_image = false;
}

void Agent::stop() {
    if (stopped_) return;
    stopped_ = true;
    alive_.reset();
    timers_->heartbeat.cancel();
    timers_->poll.cancel();
    timers_->inventory.cancel();
}

int Agent::vms_on_host() const { return static_cast<int>(vms_.size()); }

protocol::Heartbeat Agent::build_heartbeat() {
    const TimePoint now = clock_.now();
    const HostFigures figures = probe_.sample();
    protocol::Heartbeat heartbeat;
    heartbeat.node_id = options_.node_id;
    for (const auto& [id, vm] : vms_) {
        // Listed from the moment it runs until its clone is gone: the orchestrator counts what is listed.
        if (vm.phase != AgentVm::Phase::running && vm.phase != AgentVm::Phase::deleting) continue;
        heartbeat.vms.push_back({vm.vm_id, vm.image,
                                 std::chrono::duration_cast<std::chrono::seconds>(now - vm.started_at).count(),
                                 vm.hostname, vm.ip_address});
    }
    heartbeat.vm_count = static_cast<int>(heartbeat.vms.size());
    heartbeat.cpu_usage_percent = std::clamp(figures.cpu_usage_percent, 0.0, 100.0);
    heartbeat.memory_usage_gb = std::max(0.0, figures.memory_used_gb);
    heartbeat.total_memory_gb = std::max(0.0, figures.memory_total_gb);
    heartbeat.disk_usage_gb = std::max(0.0, figures.disk_used_gb);
    heartbeat.total_disk_gb = std::max(0.0, figures.disk_total_gb);
    const std::string& reason = !degraded_reason_.empty() ? degraded_reason_ : inventory_problem_;
    heartbeat.status = reason.empty() ? (vms_.empty() ? "idle" : "healthy") : "degraded";
    heartbeat.status_reason = heartbeat_status_reason(reason);
    heartbeat.cached_images = cache_.names();
    heartbeat.labels = options_.labels;
    heartbeat.agent_instance = instance_;
    return heartbeat;
}

AgentStatus Agent::status() const {
    AgentStatus status = counters_;
    for (const auto& [id, vm] : vms_) status.vms.push_back(vm);
    status.cached_images = cache_.names();
    status.degraded_reason = !degraded_reason_.empty() ? degraded_reason_ : inventory_problem_;
    return status;
}

// ---------------------------------------------------------------------------------------------
// Talking to the orchestrator

Duration Agent::backoff(int failures) {
    // Exponential, capped, with full jitter so that a fleet does not come back in lockstep.
    const double base = std::chrono::duration<double>(options_.heartbeat_interval).count() *
                        std::pow(2.0, std::min(failures, 8));
    const double capped = std::min(base, std::chrono::duration<double>(options_.max_backoff).count());
    std::uniform_real_distribution<double> jitter{0.5, 1.0};
    return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(capped * jitter(random_)));
}

void Agent::schedule_heartbeat(Duration delay) {
    if (stopped_) return;
    timers_->heartbeat.expires_after(delay);
    timers_->heartbeat.async_wait(guard([this](boost::system::error_code ec) {
        if (ec) return;
        send_heartbeat();
    }));
}

void Agent::send_heartbeat() {
    ++counters_.heartbeats_sent;
    link_.heartbeat(build_heartbeat(), guard([this](LinkResult result, std::vector<protocol::Command> commands) {
        if (!result.ok()) {
            ++counters_.heartbeats_failed;
            // Logged at the first failure and then now and again, not at every retry.
            if (failures_ == 0 || failures_ % 10 == 0) {
                spdlog::warn("agent {}: heartbeat to {} failed: {}; retrying with backoff", options_.node_id,
                             link_.destination(), result.error);
            }
            ++failures_;
            counters_.connected = false;
            return schedule_heartbeat(backoff(failures_));
        }
        if (failures_ > 0) spdlog::info("agent {}: the orchestrator answers again", options_.node_id);
        failures_ = 0;
        counters_.connected = true;
        handle(commands);
        poll();
        schedule_heartbeat(options_.heartbeat_interval);
    }));
}

void Agent::poll() {
    if (!options_.long_poll || polling_ || stopped_) return;
    polling_ = true;
    link_.poll_commands(options_.node_id, options_.poll_wait,
                        guard([this](LinkResult result, std::vector<protocol::Command> commands) {
                            polling_ = false;
                            if (!result.ok()) {
                                // Unknown node (the orchestrator forgot it): the heartbeat loop
                                // starts polling again once it gets through.
                                if (!result.retryable()) return;
                                return poll_after(backoff(++poll_failures_));
                            }
                            poll_failures_ = 0;
                            handle(commands);
                            if (commands.empty()) return poll();
                            // Commands stay pending until our acknowledgements arrive: give them a
                            // moment rather than receiving the same commands again at once.
                            poll_after(std::chrono::milliseconds{500});
                        }));
}

void Agent::poll_after(Duration delay) {
    timers_->poll.expires_after(delay);
    timers_->poll.async_wait(guard([this](boost::system::error_code ec) {
        if (!ec) poll();
    }));
}

void Agent::acknowledge(const std::string& command_id) {
    link_.acknowledge(options_.node_id, command_id, guard([this, command_id](LinkResult result) {
        // 404: acknowledged already. Any other failure: the command comes again and is acknowledged then.
        if (!result.ok() && result.status != 404) {
            spdlog::debug("agent {}: acknowledging {} failed: {}", options_.node_id, command_id, result.error);
        }
    }));
}

void Agent::report(const std::string& vm_id, int state, std::string message, std::optional<double> progress,
                   std::function<void()> then) {
    protocol::VmEvent event{static_cast<VmState>(state), std::move(message), progress};
    link_.report(vm_id, event, guard([this, vm_id, then = std::move(then)](LinkResult result) {
        if (!result.ok() && result.status != 404 && result.status != 409) {
            spdlog::debug("agent {}: reporting on VM {} failed: {}", options_.node_id, vm_id, result.error);
        }
        if (then) then();
    }));
}

// ---------------------------------------------------------------------------------------------
// Commands

void Agent::handle(const std::vector<protocol::Command>& commands) {
    for (const auto& command : commands) {
        if (seen_commands_.contains(command.id)) {
            // Sent again: our acknowledgement was lost. The work is under way or done.
            acknowledge(command.id);
            continue;
        }
        seen_commands_.emplace(command.id, command.vm_id);
        seen_order_.push_back(command.id);
        if (seen_order_.size() > remembered_commands) {
            seen_commands_.erase(seen_order_.front());
            seen_order_.erase(seen_order_.begin());
        }
        if (command.type == CommandType::create_vm) {
            take_create(command);
        } else {
            take_delete(command);
        }
    }
}

void Agent::take_create(const protocol::Command& command) {
    acknowledge(command.id);
    if (vms_.contains(command.vm_id)) return; // made already, or being made
    if (!safe_name(command.vm_id) || !safe_name(command.image_name)) {
        return report(command.vm_id, static_cast<int>(VmState::failed), "refused: the VM id or image name is not usable");
    }
    if (const std::string& reason = !degraded_reason_.empty() ? degraded_reason_ : inventory_problem_; !reason.empty()) {
        return report(command.vm_id, static_cast<int>(VmState::failed), "this host is degraded: " + reason);
    }
    if (vms_on_host() >= options_.max_vms) {
        return report(command.vm_id, static_cast<int>(VmState::failed),
                      "this host runs " + std::to_string(vms_on_host()) + " VMs already, its limit");
    }
    AgentVm vm;
    vm.vm_id = command.vm_id;
    vm.image = command.image_name;
    vm.command = command;
    vms_.emplace(command.vm_id, std::move(vm));
    spdlog::info("agent {}: creating VM {} from {}", options_.node_id, command.vm_id, command.image_name);

    if (cache_.contains(command.image_name)) {
        hold_image(vms_.at(command.vm_id));
        return launch(command.vm_id);
    }
    report(command.vm_id, static_cast<int>(VmState::provisioning), "waiting for image " + command.image_name, 0.0);
    auto& waiting = waiting_for_image_[command.image_name];
    waiting.push_back(command.vm_id);
    // Two VMs needing the same missing image share one download.
    if (waiting.size() == 1) fetch(command.image_name);
}

// Room is made with the image's real size before the pull starts: as the host saw it before,
// else as its registry tells, else as large as the largest image known here (a fleet's images
// are alike; tart's own pruning is off).
void Agent::fetch(const std::string& image) {
    if (const double known = known_size_gb(image); known > 0) return make_room_and_pull(image, known);
    backend_.expected_size_gb(image, guard([this, image](double size) {
        if (size <= 0) {
            for (const auto& [key, known] : known_images_) size = std::max(size, known.size_gb);
            spdlog::info("agent {}: the size of image {} is unknown before its pull; making room for {:.0f} GB",
                         options_.node_id, image, size);
        }
        make_room_and_pull(image, size);
    }));
}

void Agent::make_room_and_pull(const std::string& image, double size) {
    const HostFigures figures = probe_.sample();
    const auto plan = cache_.eviction_plan(size, figures.disk_total_gb - figures.disk_used_gb);
    if (!plan) {
        const auto waiting = std::move(waiting_for_image_[image]);
        waiting_for_image_.erase(image);
        const std::string why = fmt::format(
            "no room for image {} ({:.0f} GB) even without every unused image: at most {} images, at least {:.0f} GB "
            "of disk kept free",
            image, size, cache_.max_images(), options_.min_free_disk_gb);
        for (const auto& vm_id : waiting) fail(vm_id, why);
        return;
    }
    for (const auto& victim : *plan) {
        spdlog::info("agent {}: evicting image {} (least recently used) to make room for {}", options_.node_id, victim,
                     image);
        cache_.remove(victim);
        backend_.delete_image(victim, guard([this, victim](Outcome outcome) {
            if (!outcome.ok) {
                spdlog::warn("agent {}: deleting image {} failed: {}", options_.node_id, victim, outcome.message);
            }
        }));
    }
    spdlog::info("agent {}: pulling image {} ({:.1f} GB expected)", options_.node_id, image, size);
    backend_.pull_image(
        image,
        guard([this, image](double fraction, const std::string& message) {
            // Progress at most once a second per image: enough for a dashboard.
            const TimePoint now = clock_.now();
            auto& last = last_progress_report_[image];
            if (now - last < std::chrono::seconds{1}) return;
            last = now;
            for (const auto& vm_id : waiting_for_image_[image]) {
                report(vm_id, static_cast<int>(VmState::provisioning), message, fraction);
            }
        }),
        guard([this, image](Outcome outcome) {
            const auto waiting = std::move(waiting_for_image_[image]);
            waiting_for_image_.erase(image);
            last_progress_report_.erase(image);
            if (!outcome.ok) {
                for (const auto& vm_id : waiting) fail(vm_id, "pulling image " + image + " failed: " + outcome.message);
                return;
            }
            cache_.add(image, backend_.image_size_gb(image), clock_.now());
            know_image(image, backend_.image_size_gb(image));
            for (const auto& vm_id : waiting) {
                const auto it = vms_.find(vm_id);
                if (it == vms_.end()) continue; // deleted while the image came in
                hold_image(it->second);
                launch(vm_id);
            }
        }));
}

void Agent::launch(const std::string& vm_id) {
    VmLaunch launch;
    {
        auto& starting = vms_.at(vm_id);
        starting.phase = AgentVm::Phase::starting;
        launch.vm_name = vm_name(vm_id);
        launch.vm_id = vm_id;
        launch.image = starting.image;
        launch.cpu = starting.command.cpu;
        launch.memory_gb = starting.command.memory_gb;
        launch.runner_config = starting.command.runner_config;
    }
    remember();
    report(vm_id, static_cast<int>(VmState::provisioning), "booting", 1.0);
    backend_.start_vm(launch, guard([this, vm_id](Outcome outcome, StartedVm started) {
        const auto it = vms_.find(vm_id);
        if (it == vms_.end()) return;
        AgentVm& vm = it->second;
        if (vm.phase == AgentVm::Phase::deleting) return remove(vm_id); // deleted while it booted
        if (!outcome.ok) {
            note_host_problem(outcome.problem);
            return fail(vm_id, outcome.message);
        }
        vm.phase = AgentVm::Phase::running;
        vm.started_at = clock_.now();
        vm.ip_address = started.ip_address;
        vm.hostname = started.hostname;
        vm.guest = started.guest;
        remember();
        spdlog::info("agent {}: VM {} running at {}", options_.node_id, vm_id, started.ip_address);
        report(vm_id, static_cast<int>(VmState::running), "running at " + started.ip_address);
    }));
}

// A failure that says something of the host, not of one VM: the node is reported degraded with
// the reason, and placements go elsewhere until an operator has acted and restarted the agent.
void Agent::note_host_problem(HostProblem problem) {
    std::string reason;
    switch (problem) {
    case HostProblem::none: return;
    case HostProblem::vm_limit:
        // The VM that failed is still counted: the others run.
        if (vms_on_host() - 1 >= options_.max_vms) return;
        reason = "macOS refuses another VM with " + std::to_string(vms_on_host() - 1) +
                 " running: a ghost VM holds a slot until the host is rebooted";
        break;
    case HostProblem::keychain_locked:
        reason = "macOS starts no VM without an unlocked login keychain: log in once on the Mac's screen, or "
                 "`security unlock-keychain login.keychain` as the agent's user (docs/agent.md)";
        break;
    case HostProblem::local_network_denied:
        reason = "macOS's Local Network privacy refuses the agent's SSH connections to its VMs: allow it in System "
                 "Settings > Privacy & Security > Local Network (docs/agent.md)";
        break;
    }
    if (degraded_reason_ == reason) return;
    degraded_reason_ = reason;
    spdlog::error("agent {}: {}; reporting the node as degraded", options_.node_id, degraded_reason_);
}

void Agent::take_delete(const protocol::Command& command) {
    acknowledge(command.id);
    const auto it = vms_.find(command.vm_id);
    if (it == vms_.end()) {
        // Not ours (any more): make sure no clone of that name is left, e.g. from a failed attempt.
        if (safe_name(command.vm_id)) backend_.delete_vm(vm_name(command.vm_id), [](Outcome) {});
        return;
    }
    AgentVm& vm = it->second;
    switch (vm.phase) {
    case AgentVm::Phase::waiting_for_image:
        std::erase(waiting_for_image_[vm.image], vm.vm_id);
        vms_.erase(it);
        return;
    case AgentVm::Phase::starting:
        vm.phase = AgentVm::Phase::deleting; // finished when the start completes
        return remember();
    case AgentVm::Phase::running:
        return remove(command.vm_id);
    case AgentVm::Phase::deleting:
        return;
    }
}

void Agent::remove(const std::string& vm_id) {
    auto& vm = vms_.at(vm_id);
    if (vm.delete_started) return;
    vm.phase = AgentVm::Phase::deleting;
    vm.delete_started = true;
    spdlog::info("agent {}: deleting VM {}", options_.node_id, vm_id);
    remember();
    backend_.delete_vm(vm_name(vm_id), guard([this, vm_id](Outcome outcome) {
        const auto it = vms_.find(vm_id);
        if (it == vms_.end()) return;
        if (!outcome.ok) {
            // Listed still, so the orchestrator keeps asking; try again with its next command.
            spdlog::warn("agent {}: deleting VM {} failed: {}", options_.node_id, vm_id, outcome.message);
            it->second.phase = AgentVm::Phase::running;
            it->second.delete_started = false;
            // The orchestrator's deleteVm comes again until the VM is gone: let it be taken again.
            forget_command_about(vm_id);
            return remember();
        }
        let_go_of_image(it->second);
        vms_.erase(it);
        remember();
    }));
}

void Agent::fail(const std::string& vm_id, const std::string& reason) {
    const auto it = vms_.find(vm_id);
    if (it == vms_.end()) return;
    spdlog::warn("agent {}: VM {} failed: {}", options_.node_id, vm_id, reason);
    let_go_of_image(it->second);
    vms_.erase(it);
    remember();
    report(vm_id, static_cast<int>(VmState::failed), reason);
}

void Agent::forget_command_about(const std::string& vm_id) {
    for (auto it = seen_commands_.begin(); it != seen_commands_.end();) {
        it = it->second == vm_id ? seen_commands_.erase(it) : std::next(it);
    }
}

void Agent::on_vm_exit(const std::string& name, const Outcome& how) {
    if (!name.starts_with(options_.vm_name_prefix)) return;
    const std::string vm_id = name.substr(options_.vm_name_prefix.size());
    const auto it = vms_.find(vm_id);
    if (it == vms_.end() || it->second.phase != AgentVm::Phase::running) return;
    if (how.ok) {
        // Its runner took one job and finished (or the guest shut down): the VM is spent.
        spdlog::info("agent {}: VM {} finished its job", options_.node_id, vm_id);
    } else {
        // Said before the VM goes from the heartbeat, so that its record says why it ended.
        spdlog::warn("agent {}: VM {} stopped on its own: {}", options_.node_id, vm_id, how.message);
        report(vm_id, static_cast<int>(VmState::failed), "the VM stopped on its own: " + how.message);
    }
    remove(vm_id);
}


} // namespace macvmorx::agent
