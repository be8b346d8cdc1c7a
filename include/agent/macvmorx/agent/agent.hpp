#pragma once

#include "macvmorx/agent/image_cache.hpp"
#include "macvmorx/agent/vm_journal.hpp"
#include "macvmorx/base/clock.hpp"
#include "macvmorx/protocol/heartbeat.hpp"
#include "macvmorx/protocol/labels.hpp"
#include "macvmorx/protocol/command.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace macvmorx::agent {

class HostProbe;
class OrchestratorLink;
class VmBackend;
struct Inventory;
struct Outcome;

struct AgentOptions {
    std::string node_id;
    Duration heartbeat_interval = std::chrono::seconds{5};
    bool long_poll = true; // a VM starts within milliseconds of its placement, not at the next heartbeat
    Duration poll_wait = std::chrono::seconds{25};
    std::size_t max_cached_images = 5;
    double min_free_disk_gb = 30;
    int max_vms = 2;
    std::string vm_name_prefix = "macvmorx-";
    protocol::Labels labels;
    Duration max_backoff = std::chrono::seconds{60};
    std::uint64_t seed = 0; // for the jitter of retries
    // Where the agent remembers its clones across restarts (VmJournal); empty: nowhere.
    std::string state_file;
    // Where this Mac serves its bucket images to its lab's peers, named in every heartbeat;
    // empty: it serves none.
    std::string peer_url;
};

// A VM on this host as the agent knows it.
struct AgentVm {
    enum class Phase { waiting_for_image, starting, running, deleting };
    std::string vm_id;
    std::string image;
    Phase phase = Phase::waiting_for_image;
    TimePoint started_at;
    std::string ip_address;
    std::string hostname;
    protocol::Command command; // the createVm it came from (cpu, memory)
    bool delete_started = false;
    GuestCommand guest = GuestCommand::nothing; // what runs in its guest
    bool holds_image = false;                   // counted as a use of its image by the cache
    bool adopted = false;                       // found running at start, made by an earlier run
};

struct AgentStatus {
    std::vector<AgentVm> vms;
    std::vector<std::string> cached_images;
    std::string degraded_reason;
    std::size_t heartbeats_sent = 0;
    std::size_t heartbeats_failed = 0;
    bool connected = false;
};

// A reason as a heartbeat's statusReason may carry it (docs/agent-protocol.md): control
// characters (a tab in tart's words) become spaces, and it is cut to 512 bytes between UTF-8
// characters.
std::string heartbeat_status_reason(const std::string& reason);

// The host agent: reports the Mac to the orchestrator and carries out its commands through a
// VmBackend, keeping an LRU image cache within the host's limits. It never gives up on an
// unreachable orchestrator: heartbeats are retried with exponential backoff and jitter.
// See docs/agent-protocol.md for the protocol and docs/agent.md for running it.
//
// Threading: every member runs on the io_context given at construction, which must be run by
// one thread (backends post their completions back to it).
class Agent {
public:
    Agent(boost::asio::io_context& ioc, AgentOptions options, OrchestratorLink& link, VmBackend& backend,
          HostProbe& probe, const Clock& clock);
    ~Agent();
    Agent(const Agent&) = delete;
    Agent& operator=(const Agent&) = delete;

    // Takes stock of the host (clones and images left from an earlier run), then heartbeats.
    void start();
    // No more requests; operations under way complete without follow-up.
    void stop();

    AgentStatus status() const;
    protocol::Heartbeat build_heartbeat();

private:
    struct Timers;

    // Talking to the orchestrator (agent.cpp).
    void schedule_heartbeat(Duration delay);
    void send_heartbeat();
    void poll();
    void poll_after(Duration delay);
    Duration backoff(int failures);
    void acknowledge(const std::string& command_id);
    void report(const std::string& vm_id, int state, std::string message, std::optional<double> progress = {},
                std::function<void()> then = {});

    // The command inbox (agent_commands.cpp).
    void handle(const std::vector<protocol::Command>& commands);
    void take_create(const protocol::Command& command);
    void take_delete(const protocol::Command& command);
    void take_pull(const protocol::Command& command);
    // Recovery at start, and the journal (agent_recovery.cpp).
    void list_the_host();
    void take_stock(const Inventory& inventory);
    void adopt(const std::string& vm_name, const std::string& vm_id, const JournalEntry* remembered);
    void remember();
    // Image fetching and the cache (agent_images.cpp).
    void hold_image(AgentVm& vm);
    void let_go_of_image(AgentVm& vm);
    // Downloads `image` for the VMs waiting for it, if any. Room is made without evicting an
    // image in `keep` while no VM waits (a pullImage's keepImages).
    void fetch(const std::string& image, std::vector<std::string> keep = {});
    void make_room_and_pull(const std::string& image, double size_gb, const std::vector<std::string>& keep);
    void know_image(const std::string& name, double size_gb);
    double known_size_gb(const std::string& image) const;
    // The host's VMs (agent_vms.cpp).
    void launch(const std::string& vm_id);
    void note_host_problem(HostProblem problem);
    void remove(const std::string& vm_id);
    void fail(const std::string& vm_id, const std::string& reason);
    void on_vm_exit(const std::string& vm_name, const Outcome& how);
    void forget_command_about(const std::string& vm_id);

    // Wraps a completion handler so that it does nothing once the agent is stopped or destroyed.
    template <typename Handler>
    auto guard(Handler handler) {
        return [this, alive = std::weak_ptr<bool>(alive_), handler = std::move(handler)](auto&&... args) mutable {
            if (alive.lock() && !stopped_) handler(std::forward<decltype(args)>(args)...);
        };
    }
    std::string vm_name(const std::string& vm_id) const { return options_.vm_name_prefix + vm_id; }
    int vms_on_host() const;

    AgentOptions options_;
    OrchestratorLink& link_;
    VmBackend& backend_;
    HostProbe& probe_;
    const Clock& clock_;
    std::unique_ptr<Timers> timers_;
    std::shared_ptr<bool> alive_; // callbacks check it, so that none runs after the agent is gone

    ImageCache cache_;
    VmJournal journal_;
    std::map<std::string, AgentVm> vms_;
    // Images being downloaded -> the VMs waiting for them (none for a pullImage's download).
    std::map<std::string, std::vector<std::string>> waiting_for_image_;
    std::map<std::string, TimePoint> last_progress_report_;             // image -> time
    std::map<std::string, std::string> seen_commands_; // command id -> VM id
    std::vector<std::string> seen_order_;
    std::string degraded_reason_;   // a host problem that keeps VMs from starting here
    std::string inventory_problem_; // why the host's clones and images are not known yet
    std::map<std::string, JournalImage> known_images_; // image_key -> as last named, and its size
    const std::string instance_; // new at each start: the orchestrator learns what this run forgot
    std::mt19937_64 random_;
    int failures_ = 0;
    int poll_failures_ = 0;
    bool polling_ = false;
    bool started_ = false;
    bool stopped_ = false;
    AgentStatus counters_;
};

} // namespace macvmorx::agent
