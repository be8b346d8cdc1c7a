#include "macvmorx/sim/simulated_mac.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <cmath>

namespace macvmorx::sim {

SimulatedMac::SimulatedMac(boost::asio::io_context& ioc, const SimulationProfile& profile, MacModel model,
                           std::uint64_t seed)
    : ioc_{ioc}, profile_{profile}, model_{model}, random_{seed} {}

SimulatedMac::~SimulatedMac() = default;

void SimulatedMac::after(Duration delay, std::function<void()> then) {
    auto timer = std::make_shared<boost::asio::steady_timer>(ioc_, delay);
    timer->async_wait([timer, generation = generation_, alive = std::weak_ptr<bool>(alive_), this,
                       then = std::move(then)](boost::system::error_code ec) {
        if (ec || !alive.lock() || generation != generation_) return;
        then();
    });
}

Duration SimulatedMac::vary(Duration mean, double spread) {
    std::uniform_real_distribution<double> factor{1.0 - spread, 1.0 + spread};
    return std::chrono::duration_cast<Duration>(mean * factor(random_));
}

bool SimulatedMac::chance(double probability) {
    return probability > 0 && std::uniform_real_distribution<double>{0, 1}(random_) < probability;
}

void SimulatedMac::preload_image(const std::string& image) { images_[image] = profile_size_gb(image); }

void SimulatedMac::crash() {
    ++generation_;
    vms_.clear();
    ghosts_ = 0; // a reboot clears ghosts too
}

double SimulatedMac::profile_size_gb(const std::string& image) const {
    const auto it = profile_.image_sizes_gb.find(image);
    return it == profile_.image_sizes_gb.end() ? profile_.default_image_gb : it->second;
}

double SimulatedMac::image_size_gb(const std::string& image) const {
    const auto it = images_.find(image);
    return it == images_.end() ? 0 : it->second;
}

// The registry of a simulated lab knows every image's size.
void SimulatedMac::expected_size_gb(const std::string& image, std::function<void(double)> done) {
    boost::asio::post(ioc_, [done = std::move(done), size = profile_size_gb(image)] { done(size); });
}

void SimulatedMac::pull_image(const std::string& image, Progress progress, Done done) {
    ++pulls_;
    const double size_gb = profile_size_gb(image);
    const double seconds = size_gb * 8000.0 / std::max(1.0, profile_.bandwidth_mbps);
    const bool fails = chance(profile_.pull_failure_rate);
    // Progress every second of the download.
    const int steps = std::max(1, static_cast<int>(seconds));
    for (int step = 1; step < steps; ++step) {
        after(std::chrono::duration_cast<Duration>(std::chrono::duration<double>(step)), [progress, step, steps, size_gb] {
            const double fraction = static_cast<double>(step) / steps;
            progress(fraction, "downloading: " + std::to_string(static_cast<int>(fraction * size_gb)) + " of " +
                                   std::to_string(static_cast<int>(size_gb)) + " GB");
        });
    }
    after(std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds)),
          [this, image, size_gb, fails, done = std::move(done)] {
              if (fails) return done(agent::Outcome::failure("registry: connection reset while pulling " + image));
              images_[image] = size_gb;
              done(agent::Outcome::success());
          });
}

void SimulatedMac::delete_image(const std::string& image, Done done) {
    after(std::chrono::milliseconds{200}, [this, image, done = std::move(done)] {
        images_.erase(image);
        done(agent::Outcome::success());
    });
}

int SimulatedMac::running_vms() const {
    return static_cast<int>(std::count_if(vms_.begin(), vms_.end(), [](const auto& vm) { return vm.second.running; }));
}

void SimulatedMac::start_vm(const agent::VmLaunch& launch, Started done) {
    if (!images_.contains(launch.image)) {
        return boost::asio::post(ioc_, [done = std::move(done), image = launch.image] {
            done(agent::Outcome::failure("image " + image + " is not on this Mac"), {});
        });
    }
    vms_[launch.vm_name] = {launch.image, false, {}};
    const bool fails = chance(profile_.boot_failure_rate);
    after(vary(profile_.boot_time, 0.5), [this, name = launch.vm_name, fails, done = std::move(done)] {
        const auto it = vms_.find(name);
        if (it == vms_.end()) return done(agent::Outcome::failure("the clone was deleted while it booted"), {});
        if (running_vms() + ghosts_ >= 2) {
            vms_.erase(it);
            return done(agent::Outcome::failure("tart run: The number of VMs exceeds the system limit",
                                                agent::HostProblem::vm_limit),
                        {});
        }
        if (fails) {
            vms_.erase(it);
            return done(agent::Outcome::failure("the guest did not get an IP address within 120s"), {});
        }
        it->second.running = true;
        std::uniform_int_distribution<int> octet{2, 254};
        agent::StartedVm started{"192.168.64." + std::to_string(octet(random_)), "runner-" + name.substr(name.size() - 6),
                                 agent::GuestCommand::runner};
        it->second.address = started;
        done(agent::Outcome::success(), started);
        // The runner takes one job; when it is done the VM ends on its own.
        after(vary(profile_.job_runtime, 0.6), [this, name] {
            const auto vm = vms_.find(name);
            if (vm != vms_.end() && vm->second.running && exit_handler_) exit_handler_(name, agent::Outcome::success());
        });
    });
}

// The simulated runner goes on with its job whoever watches: its end still reaches on_vm_exit.
void SimulatedMac::adopt_vm(const std::string& vm_name, bool /*watch_runner*/, Started done) {
    const auto it = vms_.find(vm_name);
    const bool running = it != vms_.end() && it->second.running;
    const agent::StartedVm address = running ? it->second.address : agent::StartedVm{};
    boost::asio::post(ioc_, [done = std::move(done), running, address] {
        if (!running) return done(agent::Outcome::failure("the VM is not running"), {});
        done(agent::Outcome::success(), address);
    });
}

void SimulatedMac::delete_vm(const std::string& vm_name, Done done) {
    after(std::chrono::seconds{2}, [this, vm_name, done = std::move(done)] {
        if (vms_.erase(vm_name) > 0 && chance(profile_.ghost_rate)) ++ghosts_;
        done(agent::Outcome::success());
    });
}

void SimulatedMac::inventory(std::function<void(agent::Outcome, agent::Inventory)> done) {
    agent::Inventory inventory;
    for (const auto& [name, size] : images_) inventory.images.push_back({name, size});
    for (const auto& [name, vm] : vms_) inventory.vms.push_back({name, vm.running});
    boost::asio::post(ioc_, [done = std::move(done), inventory = std::move(inventory)] {
        done(agent::Outcome::success(), inventory);
    });
}

void SimulatedMac::on_vm_exit(Exited handler) { exit_handler_ = std::move(handler); }

agent::HostFigures SimulatedMac::sample() {
    std::normal_distribution<double> noise{0, 3};
    const int running = running_vms();
    agent::HostFigures figures;
    figures.cpu_usage_percent = std::clamp(model_.idle_cpu_percent + 38.0 * running + noise(random_), 0.5, 100.0);
    figures.memory_total_gb = model_.memory_total_gb;
    figures.memory_used_gb =
        std::clamp(3.5 + 0.25 * model_.memory_total_gb * running + std::abs(noise(random_)) / 3, 0.0,
                   model_.memory_total_gb);
    double images = 0;
    for (const auto& [name, size] : images_) images += size;
    figures.disk_total_gb = model_.disk_total_gb;
    figures.disk_used_gb = std::min(model_.disk_total_gb, 60.0 + images + 12.0 * static_cast<double>(vms_.size()));
    return figures;
}

} // namespace macvmorx::sim
