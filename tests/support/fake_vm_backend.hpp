#pragma once

// A Mac in process for the agent's unit tests: every operation completes at once (posted to the
// io_context, as tart's do) and is recorded; a test sets what the host holds and what fails.

#include "macvmorx/agent/host_probe.hpp"
#include "macvmorx/agent/vm_backend.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace macvmorx::testing {

class FakeVmBackend final : public agent::VmBackend, public agent::HostProbe {
public:
    explicit FakeVmBackend(boost::asio::io_context& ioc) : ioc_{ioc} {}

    void pull_image(const std::string& image, Progress progress, Done done) override {
        pulls.push_back(image);
        std::function<void()> download = [this, image, progress = std::move(progress), done = std::move(done)] {
            progress(0.5, "downloading");
            if (pull_outcome.ok) images[image] = pulled_image_gb;
            done(pull_outcome);
        };
        if (hold_pulls) return held_pulls.push_back(std::move(download));
        post(std::move(download));
    }
    // Lets the pulls held so far complete (with pull_outcome as it is then).
    void finish_held_pulls() {
        for (auto& download : std::exchange(held_pulls, {})) post(std::move(download));
    }
    void delete_image(const std::string& image, Done done) override {
        deleted_images.push_back(image);
        post([this, image, done = std::move(done)] {
            images.erase(image);
            done(agent::Outcome::success());
        });
    }
    double image_size_gb(const std::string& image) const override {
        const auto it = images.find(image);
        return it == images.end() ? 0 : it->second;
    }
    void expected_size_gb(const std::string&, std::function<void(double)> done) override {
        post([this, done = std::move(done)] { done(pulled_image_gb); });
    }
    void start_vm(const agent::VmLaunch& launch, Started done) override {
        started.push_back(launch);
        post([this, done = std::move(done)] {
            done(start_outcome, start_outcome.ok ? agent::StartedVm{"192.168.64.2", "runner", agent::GuestCommand::runner}
                                                 : agent::StartedVm{});
        });
    }
    void adopt_vm(const std::string& vm_name, bool watch_runner, Started done) override {
        adopted.emplace_back(vm_name, watch_runner);
        post([done = std::move(done)] { done(agent::Outcome::success(), {"192.168.64.9", "adopted", {}}); });
    }
    void delete_vm(const std::string& vm_name, Done done) override {
        deleted_vms.push_back(vm_name);
        post([done = std::move(done)] { done(agent::Outcome::success()); });
    }
    void inventory(std::function<void(agent::Outcome, agent::Inventory)> done) override {
        agent::Inventory listed = host;
        for (const auto& [name, size] : images) listed.images.push_back({name, size});
        post([this, done = std::move(done), listed = std::move(listed)] { done(inventory_outcome, listed); });
    }
    void on_vm_exit(Exited handler) override { exit_handler = std::move(handler); }

    agent::HostFigures sample() override { return {5, 8, 32, 100, 1000}; }

    // What the host holds and how operations end.
    std::map<std::string, double> images; // on disk
    agent::Inventory host;                // clones at the agent's start (images come from `images`)
    agent::Outcome inventory_outcome = agent::Outcome::success();
    agent::Outcome pull_outcome = agent::Outcome::success();
    agent::Outcome start_outcome = agent::Outcome::success();
    double pulled_image_gb = 40;
    bool hold_pulls = false; // pulls wait for finish_held_pulls(), as a long download does

    // What the agent asked for.
    std::vector<std::string> pulls;
    std::vector<std::string> deleted_images;
    std::vector<agent::VmLaunch> started;
    std::vector<std::pair<std::string, bool>> adopted; // name, watch the runner
    std::vector<std::string> deleted_vms;
    Exited exit_handler;
    std::vector<std::function<void()>> held_pulls;

private:
    template <typename F>
    void post(F f) {
        boost::asio::post(ioc_, std::move(f));
    }

    boost::asio::io_context& ioc_;
};

} // namespace macvmorx::testing
