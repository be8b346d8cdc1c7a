#pragma once

// The fixture of the tests of `macvmorx agent` as a process over a fake tart
// (tests/support/fake-tart, which follows tart's source) against the real daemon: the agent's
// launch, the fake's state on disk, and the calls the tests make to the daemon.

#include "daemon_process.hpp"
#include "fake_github.hpp"
#include "fake_registry.hpp"
#include "test_daemon.hpp"
#include "test_keys.hpp"

#include "macvmorx/github/webhook_signature.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unistd.h>

#include <thread>

using macvmorx::testing::DaemonProcess;
using macvmorx::testing::eventually;
using macvmorx::testing::TestDaemon;
using nlohmann::json;
using namespace std::chrono_literals;

namespace macvmorx::testing::tart {

inline const std::string fake_tart_dir = MACVMORX_FAKE_TART_DIR;

inline std::string read_file(const std::filesystem::path& path) {
    std::ifstream in{path};
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// The file names in one folder of a fake tart's state.
inline std::set<std::string> entries(const std::filesystem::path& folder) {
    std::set<std::string> names;
    std::error_code missing; // not made yet: nothing in it
    for (const auto& entry : std::filesystem::directory_iterator(folder, missing)) {
        names.insert(entry.path().filename().string());
    }
    return names;
}

inline std::string name_of(std::string stored) {
    std::replace(stored.begin(), stored.end(), '%', '/');
    std::replace(stored.begin(), stored.end(), '+', ':');
    return stored;
}

// The images a fake tart holds, under their tags (and digests pulled as such).
inline std::set<std::string> images_on(const std::filesystem::path& tart_state) {
    std::set<std::string> images;
    for (const auto& tag : entries(tart_state / "tags")) images.insert(name_of(tag));
    for (const auto& digest : entries(tart_state / "oci")) {
        if (std::filesystem::exists(tart_state / "oci" / digest / "explicit")) images.insert(name_of(digest));
    }
    return images;
}

// The images tart stores (by digest), however many tags link to them.
inline std::size_t stored_images_on(const std::filesystem::path& tart_state) { return entries(tart_state / "oci").size(); }

inline std::set<std::string> clones_on(const std::filesystem::path& tart_state) { return entries(tart_state / "vms"); }
inline std::set<std::string> running_on(const std::filesystem::path& tart_state) { return entries(tart_state / "running"); }

// How many times a fake tart was called with exactly `call` ("delete ghcr.io/acme/b:1").
inline std::size_t calls_of(const std::filesystem::path& tart_state, const std::string& call) {
    std::istringstream log{read_file(tart_state / "calls.log")};
    std::size_t count = 0;
    for (std::string line; std::getline(log, line);) count += line == call ? 1 : 0;
    return count;
}

class TartAgent : public ::testing::Test {
protected:
    std::filesystem::path state = std::filesystem::temp_directory_path() /
                                  ("macvmorx-tart-" + std::to_string(::getpid()) + "-" +
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());

    void SetUp() override {
        std::filesystem::remove_all(state);
        std::filesystem::create_directories(state);
    }
    void TearDown() override {
        // A graceful stop ends the VMs an agent runs; all are asked at once, then awaited.
        std::vector<DaemonProcess*> running;
        if (agent) running.push_back(agent.get());
        for (auto& other : others) running.push_back(other.get());
        for (auto* process : running) process->signal(SIGTERM);
        for (auto* process : running) process->wait_for_exit(std::chrono::seconds{10});
        agent.reset();
        others.clear();
        // Processes of a killed agent (a pull, a `tart run`) end once their state is gone. One that
        // writes while the tree is removed leaves a directory behind ("cannot remove all" on a
        // loaded machine): try again until the tree is gone.
        for (int attempt = 0; attempt < 50; ++attempt) {
            std::error_code ignored;
            std::filesystem::remove_all(state, ignored);
            if (!std::filesystem::exists(state, ignored)) break;
            std::this_thread::sleep_for(std::chrono::milliseconds{100});
        }
    }

    // `macvmorx agent` as node `node_id`, over a fake tart keeping its state in `tart_state`.
    std::unique_ptr<DaemonProcess> launch_agent(std::uint16_t port, const std::string& node_id,
                                                const std::filesystem::path& tart_state,
                                                const std::vector<std::string>& extra_arguments = {},
                                                const std::vector<std::string>& extra_environment = {}) {
        std::filesystem::create_directories(tart_state);
        std::vector<std::string> arguments{"agent", "--server", "http://127.0.0.1:" + std::to_string(port), "--node-id",
                                           node_id, "--tart", fake_tart_dir + "/tart", "--ssh", fake_tart_dir + "/ssh",
                                           "--heartbeat-interval", "200ms", "--guest-user", "runner", "--log-level",
                                           "debug", "--state-file", (tart_state / "agent-state.json").string(),
                                           "--vm-log-dir", (tart_state / "vm-logs").string(),
                                           "--image-download-dir", (tart_state / "image-downloads").string(),
                                           // The fake's images take 1 GB of this machine's real disk.
                                           "--min-free-disk", "0"};
        arguments.insert(arguments.end(), extra_arguments.begin(), extra_arguments.end());
        std::vector<std::string> environment{"FAKE_TART_DIR=" + tart_state.string()};
        environment.insert(environment.end(), extra_environment.begin(), extra_environment.end());
        return std::make_unique<DaemonProcess>(MACVMORX_BINARY, arguments, environment);
    }
    void start_agent(std::uint16_t port, const std::vector<std::string>& extra_arguments = {},
                     const std::vector<std::string>& extra_environment = {}) {
        agent = launch_agent(port, "mac-tart", state, extra_arguments, extra_environment);
    }
    // A runner VM for a queued job, running, its runner at work in the guest (both empty if not).
    struct RunnerAtWork {
        std::string vm_id;
        std::string ip;
    };
    RunnerAtWork start_runner_for_job(TestDaemon& daemon, int job_id);
    // Ends the agent as a crash would: SIGKILL, nothing cleaned up, its commands (a pull, a
    // clone, `tart run`) carry on without it.
    void kill_agent() {
        agent->signal(SIGKILL);
        ASSERT_TRUE(agent->wait_for_exit(std::chrono::seconds{10}).has_value());
        agent.reset();
    }
    std::string calls() const { return read_file(state / "calls.log"); }

    std::unique_ptr<DaemonProcess> agent;
    std::vector<std::unique_ptr<DaemonProcess>> others;
};

inline json get(macvmorx::http::HttpClient& client, const std::string& target) { return json::parse(client.get(target).body); }

// A node is listed once the store holds its first heartbeat, and placeable a moment later, once
// the VM lifecycle has applied it (the scheduler learns of it there): a 503 in that moment is
// what a client would try again after Retry-After, so the tests try again for up to a second.
inline int place(macvmorx::http::HttpClient& client, const std::string& vm_id, const std::string& image) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds{1};
    for (;;) {
        const int status = client.post_json("/api/schedule-vm", json{{"imageName", image}, {"vmId", vm_id}}.dump()).status;
        if (status != 503 || std::chrono::steady_clock::now() >= give_up) return status;
        std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
}

inline bool vm_is(macvmorx::http::HttpClient& client, const std::string& vm_id, const std::string& vm_state) {
    return eventually([&] { return get(client, "/api/vms/" + vm_id)["state"] == vm_state; }, 15s);
}

// Whether the VM's record went through `vm_state` with a message containing `words`.
inline bool went_through(const json& vm, const std::string& vm_state, const std::string& words) {
    return std::any_of(vm["transitions"].begin(), vm["transitions"].end(), [&](const json& transition) {
        return transition["state"] == vm_state &&
               transition["message"].get<std::string>().find(words) != std::string::npos;
    });
}

// GitHub's webhook for a queued job of acme/app, signed with the test configuration's secret.
inline int deliver_queued_job(macvmorx::http::HttpClient& client, int job_id, const std::string& delivery) {
    const std::string body = R"({"action":"queued","workflow_job":{"id":)" + std::to_string(job_id) +
                             R"(,"run_id":9,"labels":["self-hosted","macOS"],"name":"build"},"repository":{"full_name":"acme/app"}})";
    return client
        .request(macvmorx::http::Method::post, "/webhooks/github", body,
                 {{"Content-Type", "application/json"},
                  {"X-GitHub-Event", "workflow_job"},
                  {"X-GitHub-Delivery", delivery},
                  {"X-Hub-Signature-256", macvmorx::github::webhook_signature("secret", body)}})
        .status;
}

// A daemon with one runner pool of the Sonoma runner image, on the stand-in GitHub.
inline macvmorx::config::ServerConfig runner_pool_config(const macvmorx::testing::FakeGithub& github) {
    return macvmorx::testing::github_test_config(github, macvmorx::testing::shared_rsa_key().private_pem, "secret",
                                                 "ghcr.io/acme/sonoma-runner:1");
}

// The id of the first VM once it runs (a runner the webhook asked for), or empty after 10 s.
inline std::string first_running_vm(macvmorx::http::HttpClient& client) {
    std::string vm_id;
    eventually([&] {
        const auto vms = get(client, "/api/vms");
        if (vms.empty() || vms[0]["state"] != "running") return false;
        vm_id = vms[0]["vmId"];
        return true;
    }, 10s);
    return vm_id;
}

// The guest address the fake ssh was started for (its guest-<ip>.stdin), once there is one.
inline std::string guest_address(const std::filesystem::path& tart_state) {
    std::string ip;
    eventually([&] {
        for (const auto& entry : std::filesystem::directory_iterator(tart_state)) {
            const auto name = entry.path().filename().string();
            if (name.starts_with("guest-") && name.ends_with(".stdin")) ip = name.substr(6, name.size() - 6 - 6);
        }
        return !ip.empty();
    });
    return ip;
}

inline TartAgent::RunnerAtWork TartAgent::start_runner_for_job(TestDaemon& daemon, int job_id) {
    auto client = daemon.client();
    start_agent(daemon.port());
    if (!eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) return {};
    if (deliver_queued_job(client, job_id, "t-" + std::to_string(job_id)) != 200) return {};
    RunnerAtWork runner{first_running_vm(client), {}};
    if (runner.vm_id.empty()) return {};
    runner.ip = guest_address(state);
    if (!eventually([&] { return std::filesystem::exists(state / ("guest-" + runner.ip + ".runner")); })) return {};
    return runner;
}


// Whether a node's record gives `statusReason`, else empty.
inline std::string node_reason(macvmorx::http::HttpClient& client, const std::string& node_id) {
    return get(client, "/api/nodes/" + node_id).value("statusReason", "");
}

// How many lines of a fake's log start with `prefix`.
inline std::size_t lines_starting(const std::filesystem::path& log, const std::string& prefix) {
    std::istringstream lines{read_file(log)};
    std::size_t count = 0;
    for (std::string line; std::getline(lines, line);) count += line.starts_with(prefix) ? 1 : 0;
    return count;
}

// Runs the fake tart as an operator would, outside the agent (and without TART_NO_AUTO_PRUNE);
// in the background (`tart run`) with `background`.
inline int fake_tart(const std::filesystem::path& tart_state, const std::string& arguments, const std::string& environment = {},
              bool background = false) {
    const std::string command = "env -u TART_NO_AUTO_PRUNE FAKE_TART_DIR='" + tart_state.string() + "' " + environment +
                                " '" + fake_tart_dir + "/tart' " + arguments + " >/dev/null 2>&1" + (background ? " &" : "");
    return std::system(command.c_str());
}


} // namespace macvmorx::testing::tart

using namespace macvmorx::testing::tart;
