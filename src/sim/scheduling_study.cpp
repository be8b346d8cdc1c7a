#include "macvmorx/sim/scheduling_study.hpp"

#include "macvmorx/base/id_source.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>

namespace macvmorx::sim {
namespace {

using namespace std::chrono_literals;
using protocol::Command;
using protocol::CommandType;
using protocol::VmState;

double study_seconds(Duration d) { return std::chrono::duration<double>(d).count(); }
Duration study_duration(double seconds) {
    return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
}

// Uniform numbers from the engine's own bits, so that a seed gives the same run with every
// standard library (their distributions are theirs to define).
class StudyRandom {
public:
    explicit StudyRandom(std::uint64_t seed) : engine_{seed} {}
    double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
    double exponential(double mean) { return -mean * std::log1p(-uniform()); }
    // An index drawn with the weights whose running sums are `cumulative`.
    std::size_t pick(const std::vector<double>& cumulative) {
        const double u = uniform() * cumulative.back();
        const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), u);
        return std::min<std::size_t>(static_cast<std::size_t>(it - cumulative.begin()), cumulative.size() - 1);
    }

private:
    std::mt19937_64 engine_;
};

std::uint64_t study_stream(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t z = seed * 0x9E3779B97F4A7C15ULL + stream * 0xBF58476D1CE4E5B9ULL + 0x94D049BB133111EBULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

double study_percentile(std::vector<double> values, double share) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const auto rank = static_cast<std::size_t>(std::ceil(share * static_cast<double>(values.size())));
    return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

double study_mean(const std::vector<double>& values) {
    if (values.empty()) return 0;
    double total = 0;
    for (const double v : values) total += v;
    return total / static_cast<double>(values.size());
}

// One job of the CI side: the VM it asks for and what it will do, drawn before the run so that
// every combination sees the same jobs.
struct StudyJob {
    std::string vm_id;
    std::string tenant;
    std::size_t rank = 0; // of its image's demand, 0 the most used
    Duration arrival{};
    Duration runtime{};
    Duration boot{};
    std::optional<Duration> running_at;
    bool ended = false; // running, or failed for good
};

// An image on a model Mac's disk.
struct StudyCachedImage {
    std::string name;
    double size_gb = 0;
    std::uint64_t last_used = 0; // the Mac's use counter: strictly ordered, like the agent's times
    int in_use = 0;              // VMs made from it
};

struct StudyDownload {
    double bytes_left = 0;
    double size_gb = 0;
    std::vector<std::string> waiting; // VMs waiting for it; none for a pull ahead of demand
};

struct StudyVm {
    enum class Phase { waiting_for_image, booting, running, deleting };
    std::string image;
    Phase phase = Phase::waiting_for_image;
    bool holds_image = false;
    std::size_t job = 0;
    std::uint64_t incarnation = 0; // a VM of the same id made again later is another one
    Duration started{};
    std::string delete_command; // acknowledged once the clone is gone (ack_delete_when_gone)
};

// One Mac and its agent, as `macvmorx agent` behaves (docs/agent-protocol.md).
struct StudyMac {
    std::string id;
    std::vector<StudyCachedImage> cache;
    std::uint64_t use_counter = 0;
    std::map<std::string, StudyDownload> downloads; // by image
    Duration downloads_at{};                        // when bytes_left were brought up to date
    std::uint64_t download_epoch = 0;               // a newer schedule of the next completion
    std::map<std::string, StudyVm> vms;
    std::set<std::string> seen_commands;
    bool registered = false;
};

struct StudyEvent {
    Duration at{};
    std::uint64_t order = 0;
    std::function<void()> fire;
};

struct StudyEventLater {
    bool operator()(const StudyEvent& a, const StudyEvent& b) const {
        return a.at != b.at ? a.at > b.at : a.order > b.order;
    }
};

// The parts of a run the figures are split by.
enum StudyPart { part_warm_up = 0, part_steady, part_new_version, part_flood, part_count };

struct StudyTally {
    std::size_t placements = 0;
    std::size_t placed_on_holder = 0;
    std::size_t found_on_disk = 0;
    std::vector<double> waits;
};

constexpr int study_max_vms_per_node = 2;
constexpr Duration study_poll_wait = 25s;
constexpr Duration study_poll_latency = 5ms; // a long poll's answer reaching the agent
constexpr Duration study_clone_removal = 2s; // tart stops and deletes a clone

class SchedulingStudy final : public lifecycle::LifecycleObserver {
public:
    SchedulingStudy(const SchedulingStudyOptions& options, bool pre_distribution, bool fair_share)
        : options_{options}, orchestrator_{orchestration(options, pre_distribution, fair_share), clock_, ids_} {
        run_.pre_distribution = pre_distribution;
        run_.fair_share = fair_share;
        orchestrator_.add_lifecycle_observer(this);
        make_images();
        make_fleet();
        make_jobs();
        if (options_.rollout_lead > Duration::zero()) schedule(switch_at() - options_.rollout_lead, [this] { pin_new_version(); });
    }

    StudyRun run();

    // lifecycle::LifecycleObserver: placements as the daemon makes them, under its lock.
    void placed(const std::string&, bool image_cached, double) override {
        auto& tally = tallies_[part_at(now_)];
        ++tally.placements;
        if (image_cached) ++tally.placed_on_holder;
    }
    void failed(std::string_view, bool placed_again) override {
        if (placed_again) ++run_.failed_placements;
    }
    // A VM that failed for good (its attempts spent): its job will never run.
    void vm_changed(const lifecycle::VmRecord& vm) override {
        if (vm.state != VmState::failed) return;
        const auto job = job_of_vm_.find(vm.vm_id);
        if (job != job_of_vm_.end() && !jobs_[job->second].ended) {
            jobs_[job->second].ended = true;
            ++jobs_ended_;
        }
    }

private:
    static orchestrator::OrchestratorOptions orchestration(const SchedulingStudyOptions& options, bool pre_distribution,
                                                           bool fair_share) {
        orchestrator::OrchestratorOptions o;
        o.offline_timeout = 30s;
        o.scheduling.max_vms_per_node = study_max_vms_per_node;
        o.lifecycle.queue.fair_share = fair_share;
        o.lifecycle.queue.priority_aging = options.priority_aging;
        // Every job waits until it runs, so that no wait is cut short (the daemon's default: 1 h).
        o.lifecycle.queue_timeout = study_duration(options.hours * 3600) + 24h;
        o.lifecycle.max_queue_length = 1'000'000;
        o.images.max_concurrent_pulls = pre_distribution ? options.max_concurrent_pulls : 0;
        return o;
    }

    Duration switch_at() const { return study_duration(options_.hours * 3600 / 2); }
    Duration flood_from() const { return study_duration(options_.hours * 3600 * 3 / 4); }
    Duration arrivals_end() const { return study_duration(options_.hours * 3600); }
    StudyPart part_at(Duration at) const {
        if (at < options_.warm_up) return part_warm_up;
        if (at < switch_at()) return part_steady;
        if (at < flood_from()) return part_new_version;
        return part_flood;
    }
    bool measured(Duration at) const { return at >= options_.warm_up && at < arrivals_end(); }

    std::string image_name(std::size_t rank, Duration at) const {
        // Mid-run the most used image gets a new version: a new name, and all of its demand.
        if (rank == 0 && at >= switch_at()) return "macos-01:v2";
        return fmt::format("macos-{:02}:v1", rank + 1);
    }
    double size_gb(const std::string& image) const {
        const auto it = sizes_.find(image);
        return it == sizes_.end() ? options_.image_gb_max : it->second;
    }
    double bytes_per_second() const { return options_.bandwidth_mbps * 1e6 / 8; }

    void make_images();
    void make_fleet();
    void make_jobs();

    void schedule(Duration at, std::function<void()> fire) {
        events_.push({std::max(at, now_), next_order_++, std::move(fire)});
    }

    // The daemon's side.
    void sweep();
    // The operator's: the new version on as many Macs as the old one's target.
    void pin_new_version() {
        int hosts = 1;
        for (const auto& image : orchestrator_.images()) {
            if (image.image_name == "macos-01:v1") hosts = std::max(hosts, image.target);
        }
        orchestrator_.pin_image("macos-01:v2", hosts);
    }
    void arrive(std::size_t job);
    void job_done(std::size_t job);

    // The agent's side (docs/agent-protocol.md, "The loop").
    void heartbeat(std::size_t mac);
    protocol::Heartbeat build_heartbeat(const StudyMac& mac, std::size_t index) const;
    void arm_poll(std::size_t mac);
    void handle(std::size_t mac, const std::vector<Command>& commands);
    void take_create(std::size_t mac, const Command& command);
    void take_delete(std::size_t mac, const Command& command);
    void take_pull(std::size_t mac, const Command& command);
    void fetch(std::size_t mac, const std::string& image, const std::vector<std::string>& keep,
               const std::string& vm_id);
    void report_failed(std::size_t mac, const std::string& vm_id, std::string message);
    void hold_image(StudyMac& mac, StudyVm& vm);
    void let_go_of_image(StudyMac& mac, StudyVm& vm);
    void boot(std::size_t mac, const std::string& vm_id);
    void booted(std::size_t mac, const std::string& vm_id, std::uint64_t incarnation);
    void remove_vm(std::size_t mac, const std::string& vm_id, std::uint64_t incarnation);
    void bring_downloads_up_to_date(StudyMac& mac);
    void schedule_next_download_end(std::size_t mac);
    void downloads_progressed(std::size_t mac);

    const SchedulingStudyOptions options_;
    ManualClock clock_;
    SequentialIdSource ids_;
    orchestrator::Orchestrator orchestrator_;
    Duration now_{};
    std::priority_queue<StudyEvent, std::vector<StudyEvent>, StudyEventLater> events_;
    std::uint64_t next_order_ = 0;
    std::uint64_t next_incarnation_ = 0;

    std::map<std::string, double> sizes_;
    std::vector<double> zipf_cumulative_;
    std::vector<StudyMac> macs_;
    std::vector<StudyJob> jobs_;
    std::map<std::string, std::size_t, std::less<>> job_of_vm_;
    std::size_t jobs_ended_ = 0;

    StudyRun run_;
    StudyTally tallies_[part_count];
    std::uint64_t pulls_ahead_ = 0;
    std::uint64_t pulls_for_vms_ = 0;
};

void SchedulingStudy::make_images() {
    StudyRandom random{study_stream(options_.seed, 1)};
    double total = 0;
    for (int rank = 0; rank < std::max(options_.images, 1); ++rank) {
        total += 1.0 / std::pow(rank + 1, options_.zipf_exponent);
        zipf_cumulative_.push_back(total);
        const double gb = options_.image_gb_min + (options_.image_gb_max - options_.image_gb_min) * random.uniform();
        sizes_[image_name(static_cast<std::size_t>(rank), {})] = gb;
    }
    // The new version of the most used image: about as large as the old one.
    sizes_["macos-01:v2"] = sizes_["macos-01:v1"];
}

// A lab that has run for a while: each Mac's cache is full of images drawn by their demand.
void SchedulingStudy::make_fleet() {
    StudyRandom random{study_stream(options_.seed, 2)};
    const auto images = zipf_cumulative_.size();
    const auto per_mac = std::min<std::size_t>(static_cast<std::size_t>(std::max(options_.cached_images, 1)), images);
    macs_.resize(static_cast<std::size_t>(std::max(options_.macs, 1)));
    for (std::size_t i = 0; i < macs_.size(); ++i) {
        auto& mac = macs_[i];
        mac.id = fmt::format("mac-{:04}", i + 1);
        std::vector<double> weights(images);
        for (std::size_t rank = 0; rank < images; ++rank) {
            weights[rank] = zipf_cumulative_[rank] - (rank == 0 ? 0 : zipf_cumulative_[rank - 1]);
        }
        while (mac.cache.size() < per_mac) {
            std::vector<double> cumulative(images);
            double sum = 0;
            for (std::size_t rank = 0; rank < images; ++rank) cumulative[rank] = sum += weights[rank];
            const auto rank = random.pick(cumulative);
            weights[rank] = 0;
            const auto name = image_name(rank, {});
            mac.cache.push_back({name, size_gb(name), per_mac - mac.cache.size(), 0});
        }
        mac.use_counter = per_mac;
        const Duration first_beat = study_duration(random.uniform() * study_seconds(options_.heartbeat_interval));
        schedule(first_beat, [this, i] { heartbeat(i); });
    }
    schedule(options_.monitor_interval, [this] { sweep(); });
}

// Poisson arrivals for each tenant (the flood's by thinning: its rate is ten times higher for a
// while), then each job's image, length and boot.
void SchedulingStudy::make_jobs() {
    double per_minute = options_.jobs_per_minute;
    if (per_minute <= 0) {
        per_minute = options_.macs * study_max_vms_per_node * 0.5 / std::max(study_seconds(options_.job_runtime) / 60, 1e-3);
    }
    const double per_second = per_minute / 60 / 2; // each tenant's usual rate
    const double end = options_.hours * 3600;
    const double flood_start = study_seconds(flood_from());
    const double flood_end = flood_start + study_seconds(options_.flood_duration);
    const double factor = std::max(options_.flood_factor, 1.0);

    struct Arrival {
        double at;
        std::string tenant;
    };
    std::vector<Arrival> arrivals;
    StudyRandom neighbour{study_stream(options_.seed, 3)};
    for (double t = neighbour.exponential(1 / per_second); t < end; t += neighbour.exponential(1 / per_second)) {
        arrivals.push_back({t, "neighbour"});
    }
    StudyRandom flood{study_stream(options_.seed, 4)};
    for (double t = flood.exponential(1 / (per_second * factor)); t < end;
         t += flood.exponential(1 / (per_second * factor))) {
        const bool flooding = t >= flood_start && t < flood_end;
        if (flood.uniform() * factor < (flooding ? factor : 1.0)) arrivals.push_back({t, "flood"});
    }
    std::stable_sort(arrivals.begin(), arrivals.end(), [](const Arrival& a, const Arrival& b) { return a.at < b.at; });

    StudyRandom draws{study_stream(options_.seed, 5)};
    const double runtime = study_seconds(options_.job_runtime);
    const double boot = study_seconds(options_.boot_time);
    for (const auto& arrival : arrivals) {
        StudyJob job;
        job.vm_id = fmt::format("job-{:06}", jobs_.size() + 1);
        job.tenant = arrival.tenant;
        job.rank = draws.pick(zipf_cumulative_);
        job.arrival = study_duration(arrival.at);
        job.runtime = study_duration(std::max(draws.exponential(runtime), 1.0));
        job.boot = study_duration(boot * (0.5 + draws.uniform()));
        job_of_vm_.emplace(job.vm_id, jobs_.size());
        const auto index = jobs_.size();
        jobs_.push_back(std::move(job));
        schedule(jobs_.back().arrival, [this, index] { arrive(index); });
    }
}

StudyRun SchedulingStudy::run() {
    const std::clock_t cpu_start = std::clock();
    const Duration give_up = arrivals_end() + 12h;
    while (!events_.empty() && jobs_ended_ < jobs_.size() && now_ < give_up) {
        auto event = events_.top();
        events_.pop();
        clock_.advance(event.at - now_);
        now_ = event.at;
        event.fire();
    }

    std::vector<double> neighbour, flood;
    StudyTally new_image_first_hour;
    for (const auto& job : jobs_) {
        if (!measured(job.arrival)) continue;
        if (!job.running_at) {
            ++run_.jobs_never_run;
            continue;
        }
        const double wait = study_seconds(*job.running_at - job.arrival);
        tallies_[part_at(job.arrival)].waits.push_back(wait);
        if (job.rank == 0 && job.arrival >= switch_at() && job.arrival < switch_at() + std::chrono::hours{1}) {
            new_image_first_hour.waits.push_back(wait);
        }
        (job.tenant == "flood" ? flood : neighbour).push_back(wait);
    }
    const auto figures = [](const std::vector<const StudyTally*>& parts) {
        StudyFigures f;
        std::vector<double> waits;
        for (const auto* tally : parts) {
            f.placements += tally->placements;
            f.placed_on_holder += tally->placed_on_holder;
            f.found_on_disk += tally->found_on_disk;
            waits.insert(waits.end(), tally->waits.begin(), tally->waits.end());
        }
        f.jobs = waits.size();
        f.mean_wait_seconds = study_mean(waits);
        f.p95_wait_seconds = study_percentile(waits, 0.95);
        return f;
    };
    run_.steady = figures({&tallies_[part_steady]});
    run_.new_version = figures({&tallies_[part_new_version]});
    run_.flood = figures({&tallies_[part_flood]});
    run_.new_image_first_hour = figures({&new_image_first_hour});
    run_.all = figures({&tallies_[part_steady], &tallies_[part_new_version], &tallies_[part_flood]});
    run_.neighbour_p95_seconds = study_percentile(neighbour, 0.95);
    run_.flood_p95_seconds = study_percentile(flood, 0.95);
    run_.measured_hours = std::max(options_.hours - study_seconds(options_.warm_up) / 3600, 1e-9);
    run_.pulls_ahead_per_hour = static_cast<double>(pulls_ahead_) / run_.measured_hours;
    run_.pulls_for_vms_per_hour = static_cast<double>(pulls_for_vms_) / run_.measured_hours;
    run_.pull_commands = orchestrator_.image_distribution().pull_counts().started;
    run_.virtual_hours = study_seconds(now_) / 3600;
    run_.cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    return run_;
}

// The daemon's periodic work, every monitor interval (app/daemon.cpp): the sweep (offline nodes,
// deadlines, the queue's timeouts, images ahead of demand), and long polls whose wait is over.
void SchedulingStudy::sweep() {
    orchestrator_.sweep();
    orchestrator_.expire_long_polls();
    schedule(now_ + options_.monitor_interval, [this] { sweep(); });
}

// The CI side asks for a VM and waits for it (POST /api/schedule-vm with "wait": true).
void SchedulingStudy::arrive(std::size_t index) {
    const auto& job = jobs_[index];
    lifecycle::VmSpec spec;
    spec.image_name = image_name(job.rank, job.arrival);
    spec.tenant = job.tenant;
    orchestrator_.request_vm(job.vm_id, std::move(spec), true);
}

// The job is over: the CI side deletes its VM (DELETE /api/vms/{vmId}).
void SchedulingStudy::job_done(std::size_t index) { orchestrator_.delete_vm(jobs_[index].vm_id); }

// "The loop": a heartbeat every interval, the commands of its answer carried out; once the node
// is known, a long poll between heartbeats ("Long poll").
void SchedulingStudy::heartbeat(std::size_t index) {
    auto& mac = macs_[index];
    auto outcome = orchestrator_.record_heartbeat(build_heartbeat(mac, index));
    handle(index, outcome.commands);
    if (!mac.registered) {
        mac.registered = true;
        arm_poll(index);
    }
    schedule(now_ + options_.heartbeat_interval, [this, index] { heartbeat(index); });
}

// "Heartbeat": the VMs that run (listed from the moment they run until their clone is gone),
// cachedImages most recently used first, pullingImages, the host's figures.
protocol::Heartbeat SchedulingStudy::build_heartbeat(const StudyMac& mac, std::size_t index) const {
    protocol::Heartbeat beat;
    beat.node_id = mac.id;
    for (const auto& [vm_id, vm] : mac.vms) {
        if (vm.phase != StudyVm::Phase::running && vm.phase != StudyVm::Phase::deleting) continue;
        beat.vms.push_back({vm_id, vm.image,
                            std::chrono::duration_cast<std::chrono::seconds>(now_ - vm.started).count(),
                            "runner-" + vm_id, "192.168.64.2"});
    }
    beat.vm_count = static_cast<int>(beat.vms.size());
    beat.cpu_usage_percent = 4 + 45.0 * beat.vm_count;
    beat.total_memory_gb = 32;
    beat.memory_usage_gb = 4 + 8.0 * beat.vm_count;
    beat.total_disk_gb = 1000;
    for (const auto& image : mac.cache) beat.disk_usage_gb += image.size_gb;
    beat.status = mac.vms.empty() ? "idle" : "healthy";
    std::vector<const StudyCachedImage*> ordered;
    for (const auto& image : mac.cache) ordered.push_back(&image);
    std::sort(ordered.begin(), ordered.end(),
              [](const StudyCachedImage* a, const StudyCachedImage* b) { return a->last_used > b->last_used; });
    for (const auto* image : ordered) beat.cached_images.push_back(image->name);
    for (const auto& [image, download] : mac.downloads) beat.pulling_images.push_back(image);
    beat.agent_instance = fmt::format("model-{}", index + 1);
    return beat;
}

void SchedulingStudy::arm_poll(std::size_t index) {
    orchestrator_.wait_for_commands(macs_[index].id, study_poll_wait, [this, index](std::vector<Command> commands) {
        // Answered under the daemon's call: the agent reads the answer a moment later.
        schedule(now_ + study_poll_latency, [this, index, commands = std::move(commands)] {
            handle(index, commands);
            arm_poll(index);
        });
    });
}

// "Commands": each is acknowledged every time it comes, and carried out once.
void SchedulingStudy::handle(std::size_t index, const std::vector<Command>& commands) {
    auto& mac = macs_[index];
    for (const auto& command : commands) {
        if (!mac.seen_commands.insert(command.id).second) {
            const bool still_going = options_.ack_delete_when_gone && command.type == CommandType::delete_vm &&
                                     mac.vms.contains(command.vm_id);
            if (!still_going) orchestrator_.acknowledge_command(mac.id, command.id);
            continue;
        }
        switch (command.type) {
        case CommandType::create_vm: take_create(index, command); break;
        case CommandType::delete_vm: take_delete(index, command); break;
        case CommandType::pull_image: take_pull(index, command); break;
        }
    }
}

// createVm: fetch the image if needed (joining a download under way), boot, report running.
void SchedulingStudy::take_create(std::size_t index, const Command& command) {
    auto& mac = macs_[index];
    orchestrator_.acknowledge_command(mac.id, command.id);
    if (mac.vms.contains(command.vm_id)) return;
    if (static_cast<int>(mac.vms.size()) >= study_max_vms_per_node) {
        return report_failed(index, command.vm_id, "this host runs 2 VMs already, its limit");
    }
    const auto job = job_of_vm_.find(command.vm_id);
    if (job == job_of_vm_.end()) return;
    StudyVm vm;
    vm.image = command.image_name;
    vm.job = job->second;
    vm.incarnation = ++next_incarnation_;
    auto& made = mac.vms.emplace(command.vm_id, std::move(vm)).first->second;
    const auto cached = std::find_if(mac.cache.begin(), mac.cache.end(),
                                     [&](const StudyCachedImage& image) { return image.name == command.image_name; });
    if (cached != mac.cache.end()) {
        ++tallies_[part_at(now_)].found_on_disk;
        hold_image(mac, made);
        return boot(index, command.vm_id);
    }
    if (const auto download = mac.downloads.find(command.image_name); download != mac.downloads.end()) {
        download->second.waiting.push_back(command.vm_id);
        return;
    }
    fetch(index, command.image_name, {}, command.vm_id);
}

// deleteVm: a VM waiting for its image leaves the download (which goes on); a booting one is
// removed once up; a running one is stopped and its clone removed (listed until then).
// Acknowledged when taken, as `macvmorx agent` does ("Acknowledging": "when it is gone or
// going"), or, with ack_delete_when_gone, once the clone is gone.
void SchedulingStudy::take_delete(std::size_t index, const Command& command) {
    auto& mac = macs_[index];
    const auto it = mac.vms.find(command.vm_id);
    const bool gone = it == mac.vms.end() || it->second.phase == StudyVm::Phase::waiting_for_image;
    if (!options_.ack_delete_when_gone || gone) orchestrator_.acknowledge_command(mac.id, command.id);
    if (it == mac.vms.end()) return;
    auto& vm = it->second;
    vm.delete_command = command.id;
    switch (vm.phase) {
    case StudyVm::Phase::waiting_for_image:
        if (const auto download = mac.downloads.find(vm.image); download != mac.downloads.end()) {
            std::erase(download->second.waiting, command.vm_id);
        }
        mac.vms.erase(it);
        return;
    case StudyVm::Phase::booting: vm.phase = StudyVm::Phase::deleting; return;
    case StudyVm::Phase::running: {
        vm.phase = StudyVm::Phase::deleting;
        const auto incarnation = vm.incarnation;
        const auto vm_id = command.vm_id;
        schedule(now_ + study_clone_removal,
                 [this, index, vm_id, incarnation] { remove_vm(index, vm_id, incarnation); });
        return;
    }
    case StudyVm::Phase::deleting: return;
    }
}

// pullImage: nothing for an image held or coming; else make room without evicting keepImages, or
// do not pull. The daemon sends it to a Mac not downloading: counted when it came to a busy one.
void SchedulingStudy::take_pull(std::size_t index, const Command& command) {
    auto& mac = macs_[index];
    orchestrator_.acknowledge_command(mac.id, command.id);
    const bool held = std::any_of(mac.cache.begin(), mac.cache.end(),
                                  [&](const StudyCachedImage& image) { return image.name == command.image_name; });
    if (held || mac.downloads.contains(command.image_name)) return;
    if (!mac.downloads.empty()) ++run_.pulls_on_busy_host;
    fetch(index, command.image_name, command.keep_images, {});
}

// Room is made as the agent's ImageCache does: the least recently used images no VM uses go, but
// for a pull ahead of demand never those in keepImages; the cache counts images on disk, not
// those coming. Disk is not what binds here (5 images of at most 60 GB on 1 TB).
void SchedulingStudy::fetch(std::size_t index, const std::string& image, const std::vector<std::string>& keep,
                            const std::string& vm_id) {
    auto& mac = macs_[index];
    const bool ahead_of_demand = vm_id.empty();
    std::vector<const StudyCachedImage*> candidates;
    for (const auto& cached : mac.cache) {
        const bool kept = ahead_of_demand && std::find(keep.begin(), keep.end(), cached.name) != keep.end();
        if (cached.in_use == 0 && !kept) candidates.push_back(&cached);
    }
    std::sort(candidates.begin(), candidates.end(),
              [](const StudyCachedImage* a, const StudyCachedImage* b) { return a->last_used < b->last_used; });
    const auto max_images = static_cast<std::size_t>(std::max(options_.cached_images, 1));
    std::vector<std::string> victims;
    std::size_t count = mac.cache.size();
    for (const auto* candidate : candidates) {
        if (count + 1 <= max_images) break;
        victims.push_back(candidate->name);
        --count;
    }
    if (count + 1 > max_images) {
        if (ahead_of_demand) {
            ++run_.pulls_without_room;
        } else {
            mac.vms.erase(vm_id);
            report_failed(index, vm_id, "no room for image " + image);
        }
        return;
    }
    std::erase_if(mac.cache, [&](const StudyCachedImage& cached) {
        return std::find(victims.begin(), victims.end(), cached.name) != victims.end();
    });
    bring_downloads_up_to_date(mac);
    StudyDownload download;
    download.size_gb = size_gb(image);
    download.bytes_left = download.size_gb * 1e9;
    if (!ahead_of_demand) download.waiting.push_back(vm_id);
    mac.downloads.emplace(image, std::move(download));
    if (measured(now_)) ++(ahead_of_demand ? pulls_ahead_ : pulls_for_vms_);
    schedule_next_download_end(index);
}

void SchedulingStudy::report_failed(std::size_t index, const std::string& vm_id, std::string message) {
    const auto& node_id = macs_[index].id;
    orchestrator_.record_vm_event(vm_id, protocol::VmEvent{VmState::failed, std::move(message), std::nullopt},
                                  [&node_id](std::string_view node) { return node == node_id; });
}

void SchedulingStudy::hold_image(StudyMac& mac, StudyVm& vm) {
    if (vm.holds_image) return;
    for (auto& image : mac.cache) {
        if (image.name != vm.image) continue;
        ++image.in_use;
        image.last_used = ++mac.use_counter;
        vm.holds_image = true;
    }
}

void SchedulingStudy::let_go_of_image(StudyMac& mac, StudyVm& vm) {
    if (!vm.holds_image) return;
    for (auto& image : mac.cache) {
        if (image.name != vm.image) continue;
        image.in_use = std::max(0, image.in_use - 1);
        image.last_used = ++mac.use_counter;
    }
    vm.holds_image = false;
}

void SchedulingStudy::boot(std::size_t index, const std::string& vm_id) {
    auto& vm = macs_[index].vms.at(vm_id);
    vm.phase = StudyVm::Phase::booting;
    const auto incarnation = vm.incarnation;
    schedule(now_ + jobs_[vm.job].boot, [this, index, vm_id, incarnation] { booted(index, vm_id, incarnation); });
}

// "Progress": the VM runs (a running event, and the heartbeats list it from now on); the job
// starts, and the CI side deletes the VM when it is over.
void SchedulingStudy::booted(std::size_t index, const std::string& vm_id, std::uint64_t incarnation) {
    auto& mac = macs_[index];
    const auto it = mac.vms.find(vm_id);
    if (it == mac.vms.end() || it->second.incarnation != incarnation) return;
    auto& vm = it->second;
    if (vm.phase == StudyVm::Phase::deleting) {
        let_go_of_image(mac, vm);
        const auto command = vm.delete_command;
        mac.vms.erase(it);
        if (options_.ack_delete_when_gone) orchestrator_.acknowledge_command(mac.id, command);
        return;
    }
    vm.phase = StudyVm::Phase::running;
    vm.started = now_;
    const auto& node_id = mac.id;
    const auto outcome =
        orchestrator_.record_vm_event(vm_id, protocol::VmEvent{VmState::running, "runner started", std::nullopt},
                                      [&node_id](std::string_view node) { return node == node_id; });
    auto& job = jobs_[vm.job];
    if (outcome != lifecycle::EventOutcome::applied || job.running_at) return;
    job.running_at = now_;
    if (!job.ended) {
        job.ended = true;
        ++jobs_ended_;
    }
    const auto job_index = vm.job;
    schedule(now_ + job.runtime, [this, job_index] { job_done(job_index); });
}

void SchedulingStudy::remove_vm(std::size_t index, const std::string& vm_id, std::uint64_t incarnation) {
    auto& mac = macs_[index];
    const auto it = mac.vms.find(vm_id);
    if (it == mac.vms.end() || it->second.incarnation != incarnation) return;
    let_go_of_image(mac, it->second);
    const auto command = it->second.delete_command;
    mac.vms.erase(it);
    if (options_.ack_delete_when_gone) orchestrator_.acknowledge_command(mac.id, command);
}

// The Mac's link is shared evenly by its downloads.
void SchedulingStudy::bring_downloads_up_to_date(StudyMac& mac) {
    if (!mac.downloads.empty()) {
        const double each = study_seconds(now_ - mac.downloads_at) * bytes_per_second() /
                            static_cast<double>(mac.downloads.size());
        for (auto& [image, download] : mac.downloads) download.bytes_left -= each;
    }
    mac.downloads_at = now_;
}

void SchedulingStudy::schedule_next_download_end(std::size_t index) {
    auto& mac = macs_[index];
    const auto epoch = ++mac.download_epoch;
    if (mac.downloads.empty()) return;
    double least = mac.downloads.begin()->second.bytes_left;
    for (const auto& [image, download] : mac.downloads) least = std::min(least, download.bytes_left);
    const double seconds = std::max(least, 0.0) * static_cast<double>(mac.downloads.size()) / bytes_per_second();
    schedule(now_ + study_duration(seconds) + 1ns, [this, index, epoch] {
        if (macs_[index].download_epoch == epoch) downloads_progressed(index);
    });
}

// Downloads that ended: the image is cached (most recently used), and the VMs waiting for it boot.
void SchedulingStudy::downloads_progressed(std::size_t index) {
    auto& mac = macs_[index];
    bring_downloads_up_to_date(mac);
    for (auto it = mac.downloads.begin(); it != mac.downloads.end();) {
        if (it->second.bytes_left > 1.0) {
            ++it;
            continue;
        }
        const std::string image = it->first;
        const auto waiting = std::move(it->second.waiting);
        mac.cache.push_back({image, it->second.size_gb, ++mac.use_counter, 0});
        it = mac.downloads.erase(it);
        for (const auto& vm_id : waiting) {
            const auto vm = mac.vms.find(vm_id);
            if (vm == mac.vms.end() || vm->second.phase != StudyVm::Phase::waiting_for_image) continue;
            hold_image(mac, vm->second);
            boot(index, vm_id);
        }
    }
    schedule_next_download_end(index);
}

std::string study_wait(double seconds) {
    if (seconds < 120) return fmt::format("{:.0f} s", seconds);
    return fmt::format("{:.1f} min", seconds / 60);
}

std::string study_share(std::size_t part, std::size_t whole) {
    if (whole == 0) return "–";
    return fmt::format("{:.1f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

// Quiet while it runs: the daemon logs every placement and pull, a model run makes millions.
class StudyQuietLog {
public:
    StudyQuietLog() : level_{spdlog::default_logger()->level()} { spdlog::set_level(spdlog::level::err); }
    ~StudyQuietLog() { spdlog::set_level(level_); }
    StudyQuietLog(const StudyQuietLog&) = delete;
    StudyQuietLog& operator=(const StudyQuietLog&) = delete;

private:
    spdlog::level::level_enum level_;
};

} // namespace

double StudyFigures::cached_share() const {
    return placements == 0 ? 0 : static_cast<double>(placed_on_holder) / static_cast<double>(placements);
}

double StudyFigures::on_disk_share() const {
    return placements == 0 ? 0 : static_cast<double>(found_on_disk) / static_cast<double>(placements);
}

StudyRun run_scheduling_study(const SchedulingStudyOptions& options, bool pre_distribution, bool fair_share) {
    const StudyQuietLog quiet;
    SchedulingStudy study{options, pre_distribution, fair_share};
    return study.run();
}

std::string scheduling_study_report(const SchedulingStudyOptions& options) {
    std::vector<StudyRun> runs;
    for (const bool fair_share : {true, false}) {
        for (const bool pre_distribution : {true, false}) {
            runs.push_back(run_scheduling_study(options, pre_distribution, fair_share));
        }
    }
    const auto on_off = [](bool on) { return on ? "on" : "off"; };
    std::string out = fmt::format(
        "{} Macs (2 VMs, {} cached images each), {} images (Zipf s={}, {:.0f}-{:.0f} GB), {:.0f} Mbit/s per Mac, "
        "{:.0f} h of arrivals (warm-up {:.0f} min), job mean {:.0f} min, seed {}; the new version at {:.1f} h, the "
        "flood ({}x for {:.0f} min) at {:.1f} h; the new version pinned {:.0f} min before; pulls ahead at once: {}; "
        "priority ageing {:.0f} min; deleteVm acknowledged {}\n\n",
        options.macs, options.cached_images, options.images, options.zipf_exponent, options.image_gb_min,
        options.image_gb_max, options.bandwidth_mbps, options.hours, study_seconds(options.warm_up) / 60,
        study_seconds(options.job_runtime) / 60, options.seed, options.hours / 2, options.flood_factor,
        study_seconds(options.flood_duration) / 60, options.hours * 3 / 4, study_seconds(options.rollout_lead) / 60,
        options.max_concurrent_pulls,
        study_seconds(options.priority_aging) / 60,
        options.ack_delete_when_gone ? "once the clone is gone" : "when taken (as macvmorx agent does)");
    out += "| pre-distribution | fair share | jobs | placed on a holder | image on disk | mean wait | p95 wait | "
           "neighbour p95 | flood p95 | pulls/h ahead | pulls/h for VMs |\n";
    out += "|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& run : runs) {
        out += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1f} | {:.1f} |\n", on_off(run.pre_distribution),
                           on_off(run.fair_share), run.all.jobs, study_share(run.all.placed_on_holder, run.all.placements),
                           study_share(run.all.found_on_disk, run.all.placements), study_wait(run.all.mean_wait_seconds),
                           study_wait(run.all.p95_wait_seconds), study_wait(run.neighbour_p95_seconds),
                           study_wait(run.flood_p95_seconds), run.pulls_ahead_per_hour, run.pulls_for_vms_per_hour);
    }
    out += "\nBy part of the run (jobs by arrival, placements by when they were made): placed on a holder / image on "
           "disk, mean / p95 wait\n\n";
    out += "| pre-distribution | fair share | steady demand | the new version | the new version's own jobs, first hour: "
           "mean / p95 wait | the flood and its queue |\n";
    out += "|---|---|---|---|---|---|\n";
    const auto part = [](const StudyFigures& f) {
        return fmt::format("{} / {}, {} / {}", study_share(f.placed_on_holder, f.placements),
                           study_share(f.found_on_disk, f.placements), study_wait(f.mean_wait_seconds),
                           study_wait(f.p95_wait_seconds));
    };
    for (const auto& run : runs) {
        out += fmt::format("| {} | {} | {} | {} | {} / {} | {} |\n", on_off(run.pre_distribution), on_off(run.fair_share),
                           part(run.steady), part(run.new_version), study_wait(run.new_image_first_hour.mean_wait_seconds),
                           study_wait(run.new_image_first_hour.p95_wait_seconds), part(run.flood));
    }
    out += "\n| pre-distribution | fair share | pullImage sent | not pulled: no room | pullImage to a busy Mac | "
           "placements failed and retried | jobs never run | virtual hours | CPU seconds |\n";
    out += "|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& run : runs) {
        out += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {:.1f} | {:.1f} |\n", on_off(run.pre_distribution),
                           on_off(run.fair_share), run.pull_commands, run.pulls_without_room, run.pulls_on_busy_host,
                           run.failed_placements, run.jobs_never_run, run.virtual_hours, run.cpu_seconds);
    }
    return out;
}

} // namespace macvmorx::sim
