#include "macvmorx/agent/agent.hpp"

#include "agent_timers.hpp"

#include "macvmorx/agent/host_probe.hpp"
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

using protocol::VmState;

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

void Agent::stop() {
    if (stopped_) return;
    stopped_ = true;
    alive_.reset();
    timers_->heartbeat.cancel();
    timers_->poll.cancel();
    timers_->inventory.cancel();
}

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
    for (const auto& [image, waiting] : waiting_for_image_) heartbeat.pulling_images.push_back(image);
    heartbeat.labels = options_.labels;
    heartbeat.agent_instance = instance_;
    heartbeat.peer_url = options_.peer_url;
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


} // namespace macvmorx::agent
