// Durable records across restarts: VMs, the queue and operators' node settings come back, and
// a daemon killed in the middle of a placement storm loses no acknowledged placement.

#include "daemon_process.hpp"
#include "test_daemon.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

using namespace std::chrono_literals;
using macvmorx::testing::DaemonProcess;
using macvmorx::testing::TestDaemon;
using nlohmann::json;

namespace {

class DurabilityTest : public ::testing::Test {
protected:
    std::filesystem::path directory = std::filesystem::temp_directory_path() /
                                      ("macvmorx-durable-" + std::to_string(::getpid()) + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    void SetUp() override { std::filesystem::remove_all(directory); }
    void TearDown() override { std::filesystem::remove_all(directory); }

    macvmorx::config::ServerConfig durable_config() {
        auto config = macvmorx::testing::test_config();
        config.data_dir = directory.string();
        return config;
    }
};

} // namespace

TEST_F(DurabilityTest, AnImagePinSurvivesARestart) {
    {
        TestDaemon server{durable_config()};
        auto client = server.client();
        client.post_json("/api/heartbeat", R"({"nodeId":"mac-1","cachedImages":["ghcr.io/acme/sonoma:1"]})");
        const auto pinned = client.request(macvmorx::http::Method::put, "/api/images/ghcr.io%2Facme%2Fsonoma:1",
                                           R"({"minHosts":5})", {{"Content-Type", "application/json"}});
        ASSERT_EQ(pinned.status, 200) << pinned.body;
        EXPECT_EQ(json::parse(pinned.body)["imageName"], "ghcr.io/acme/sonoma:1");
    }
    TestDaemon server{durable_config()};
    const auto images = json::parse(server.client().get("/api/images").body);
    ASSERT_EQ(images["images"].size(), 1u) << images.dump();
    EXPECT_EQ(images["images"][0]["imageName"], "ghcr.io/acme/sonoma:1");
    EXPECT_EQ(images["images"][0]["minHosts"], 5);
}

TEST_F(DurabilityTest, VmsTheQueueAndNodeSettingsSurviveARestart) {
    {
        TestDaemon server{durable_config()};
        auto client = server.client();
        client.post_json("/api/heartbeat", R"({"nodeId":"mac-1","cachedImages":["sonoma"]})");
        client.post_json("/api/heartbeat", R"({"nodeId":"mac-2"})");
        ASSERT_EQ(client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","vmId":"job-1","metadata":{"run":1}})").status, 200);
        ASSERT_EQ(client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","vmId":"job-2"})").status, 200);
        client.post_json("/api/heartbeat", R"({"nodeId":"mac-1","vms":[{"vmId":"job-1","imageName":"sonoma"}]})");
        ASSERT_EQ(client.request(macvmorx::http::Method::post, "/api/nodes/mac-2/drain").status, 200);
        ASSERT_EQ(client.request(macvmorx::http::Method::put, "/api/nodes/mac-1/labels", R"({"labels":{"pool":"ios"}})",
                                 {{"Content-Type", "application/json"}})
                      .status,
                  200);
        ASSERT_EQ(client.post_json("/api/schedule-vm", R"({"imageName":"sonoma","vmId":"job-3","wait":true})").status, 202);
    }

    TestDaemon server{durable_config()};
    auto client = server.client();
    const auto job1 = json::parse(client.get("/api/vms/job-1").body);
    EXPECT_EQ(job1["state"], "running");
    EXPECT_EQ(job1["nodeId"], "mac-1");
    EXPECT_EQ(job1["metadata"]["run"], 1);
    EXPECT_EQ(json::parse(client.get("/api/vms/job-2").body)["state"], "assigned");
    const auto queue = json::parse(client.get("/api/queue").body);
    ASSERT_EQ(queue.size(), 1u);
    EXPECT_EQ(queue[0]["vmId"], "job-3");

    // The nodes come back with their next heartbeat, with what the operator had decided.
    client.post_json("/api/heartbeat", R"({"nodeId":"mac-2"})");
    EXPECT_EQ(json::parse(client.get("/api/nodes/mac-2").body)["drained"], true);
    const auto answer = json::parse(client.post_json("/api/heartbeat", R"({"nodeId":"mac-1","vms":[{"vmId":"job-1","imageName":"sonoma"}]})").body);
    EXPECT_EQ(json::parse(client.get("/api/nodes/mac-1").body)["operatorLabels"]["pool"], "ios");
    // job-2 was placed but never started: its createVm command is sent again.
    ASSERT_TRUE(answer.contains("commands")) << answer;
    EXPECT_EQ(answer["commands"][0]["vmId"], "job-2");
    EXPECT_EQ(json::parse(client.get("/api/nodes/mac-1").body)["freeSlots"], 0) << "job-1 runs, job-2 is reserved";
}

TEST_F(DurabilityTest, EveryAcknowledgedPlacementSurvivesASigkillDuringAStorm) {
    const std::string binary = MACVMORX_BINARY;
    const std::vector<std::string> args{"server", "--bind", "127.0.0.1", "--port", "0", "--data-dir", directory.string()};
    std::mutex mutex;
    std::vector<std::string> acknowledged;
    {
        DaemonProcess daemon{binary, args};
        const auto port = daemon.wait_for_port();
        ASSERT_TRUE(port);
        macvmorx::http::HttpClient agent{"127.0.0.1", *port};
        for (int n = 0; n < 50; ++n) agent.post_json("/api/heartbeat", json{{"nodeId", "mac-" + std::to_string(n)}}.dump());

        std::atomic<bool> stop{false};
        std::vector<std::thread> clients;
        for (int c = 0; c < 6; ++c) {
            clients.emplace_back([&, c] {
                macvmorx::http::HttpClient client{"127.0.0.1", *port, 2s};
                for (int i = 0; !stop; ++i) {
                    const std::string vm_id = "storm-" + std::to_string(c) + "-" + std::to_string(i);
                    try {
                        const auto response = client.post_json(
                            "/api/schedule-vm", json{{"imageName", "sonoma"}, {"vmId", vm_id}, {"wait", true}}.dump());
                        if (response.status == 200 || response.status == 202) {
                            std::lock_guard lock{mutex};
                            acknowledged.push_back(vm_id);
                        }
                    } catch (const std::exception&) {
                        return; // the daemon is gone
                    }
                }
            });
        }
        ASSERT_TRUE(macvmorx::testing::eventually([&] {
            std::lock_guard lock{mutex};
            return acknowledged.size() >= 300;
        }, 20s));
        daemon.signal(SIGKILL);
        ASSERT_EQ(daemon.wait_for_exit(5s), 128 + SIGKILL);
        stop = true;
        for (auto& client : clients) client.join();
    }

    DaemonProcess restarted{binary, args};
    const auto port = restarted.wait_for_port();
    ASSERT_TRUE(port) << restarted.output();
    macvmorx::http::HttpClient client{"127.0.0.1", *port};
    std::size_t missing = 0;
    for (const auto& vm_id : acknowledged) {
        if (client.get("/api/vms/" + vm_id).status != 200) ++missing;
    }
    EXPECT_EQ(missing, 0u) << "of " << acknowledged.size() << " acknowledged placements";
    EXPECT_GE(acknowledged.size(), 300u);
}

TEST_F(DurabilityTest, ACorruptDataDirectoryStopsTheDaemonWithAClearError) {
    std::filesystem::create_directories(directory);
    {
        std::ofstream garbage{directory / "macvmorx.db"};
        garbage << "this is not a database, but it might be someone's records";
    }
    DaemonProcess daemon{MACVMORX_BINARY, {"server", "--bind", "127.0.0.1", "--port", "0", "--data-dir", directory.string()}};
    EXPECT_EQ(daemon.wait_for_exit(5s), 1);
    EXPECT_NE(daemon.output().find("cannot use the data directory"), std::string::npos) << daemon.output();
    EXPECT_NE(daemon.output().find("macvmorx.db"), std::string::npos) << daemon.output();
}
