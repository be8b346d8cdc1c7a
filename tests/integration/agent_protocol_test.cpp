// A fake host agent and a fake CI client drive a real daemon over HTTP through the whole life
// of a VM, as docs/agent-protocol.md describes it.

#include "test_daemon.hpp"

#include "macvmorx/orchestrator/orchestrator.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <future>

using namespace std::chrono_literals;
using macvmorx::testing::TestDaemon;
using nlohmann::json;

namespace {

class AgentProtocolTest : public ::testing::Test {
protected:
    TestDaemon server;
    macvmorx::http::HttpClient agent = server.client();
    macvmorx::http::HttpClient ci = server.client();

    json heartbeat(const json& vms = json::array()) {
        const json body{{"nodeId", "mac-1"},      {"vms", vms},          {"cpuUsagePercent", 12},
                        {"totalMemoryGB", 32},    {"memoryUsageGB", 6},  {"cachedImages", {"macos-sonoma"}},
                        {"labels", {{"arch", "arm64"}}}};
        const auto response = agent.post_json("/api/heartbeat", body.dump());
        EXPECT_EQ(response.status, 200) << response.body;
        return json::parse(response.body);
    }

    json vm(const std::string& vm_id) {
        const auto response = ci.get("/api/vms/" + vm_id);
        EXPECT_EQ(response.status, 200) << response.body;
        return json::parse(response.body);
    }

    static json running(const std::string& vm_id) {
        return json::array(
            {{{"vmId", vm_id}, {"imageName", "macos-sonoma"}, {"runtimeSeconds", 42}, {"vmHostname", "runner-1"},
              {"vmIpAddress", "192.168.64.5"}}});
    }
};

} // namespace

TEST_F(AgentProtocolTest, AVmGoesFromRequestToRunningToDeletedDrivenByAnAgent) {
    EXPECT_FALSE(heartbeat().contains("commands")) << "no work, no commands";

    const auto scheduled = ci.post_json(
        "/api/schedule-vm",
        R"({"imageName":"macos-sonoma","vmId":"job-1","labels":{"arch":"arm64"},"cpu":4,"memoryGB":8,
            "metadata":{"repository":"acme/app","runId":7}})");
    ASSERT_EQ(scheduled.status, 200) << scheduled.body;
    const auto placement = json::parse(scheduled.body);
    EXPECT_EQ(placement["message"], "VM scheduled successfully");
    EXPECT_EQ(placement["nodeId"], "mac-1");
    EXPECT_EQ(placement["vmId"], "job-1");
    EXPECT_EQ(placement["imageCached"], true);
    EXPECT_EQ(scheduled.header("Location"), "/api/vms/job-1");

    // The heartbeat answer carries the createVm command, with what the VM needs.
    const auto answer = heartbeat();
    ASSERT_EQ(answer["commands"].size(), 1u) << answer;
    const auto create = answer["commands"][0];
    EXPECT_EQ(create["type"], "createVm");
    EXPECT_EQ(create["vmId"], "job-1");
    EXPECT_EQ(create["imageName"], "macos-sonoma");
    EXPECT_EQ(create["imageCached"], true);
    EXPECT_EQ(create["cpu"], 4);
    EXPECT_EQ(create["memoryGB"], 8);

    const auto ack = agent.request(macvmorx::http::Method::post,
                                   "/api/nodes/mac-1/commands/" + create["id"].get<std::string>() + "/ack");
    EXPECT_EQ(ack.status, 200) << ack.body;
    EXPECT_EQ(vm("job-1")["state"], "provisioning");

    const auto event = agent.post_json("/api/vms/job-1/events",
                                       R"({"state":"provisioning","message":"booting","progress":0.8})");
    EXPECT_EQ(event.status, 200) << event.body;
    EXPECT_EQ(json::parse(event.body)["message"], "booting");

    EXPECT_FALSE(heartbeat(running("job-1")).contains("commands"));
    auto record = vm("job-1");
    EXPECT_EQ(record["state"], "running");
    EXPECT_EQ(record["vmIpAddress"], "192.168.64.5");
    EXPECT_EQ(record["runtimeSeconds"], 42);
    EXPECT_EQ(record["metadata"], json::parse(R"({"repository":"acme/app","runId":7})"));
    EXPECT_EQ(record["labels"], json::parse(R"({"arch":"arm64"})"));

    // The job is done.
    const auto deleting = ci.del("/api/vms/job-1");
    EXPECT_EQ(deleting.status, 200);
    EXPECT_EQ(json::parse(deleting.body)["state"], "deleting");
    const auto delete_answer = heartbeat(running("job-1"));
    ASSERT_EQ(delete_answer["commands"].size(), 1u);
    EXPECT_EQ(delete_answer["commands"][0]["type"], "deleteVm");
    agent.request(macvmorx::http::Method::post,
                  "/api/nodes/mac-1/commands/" + delete_answer["commands"][0]["id"].get<std::string>() + "/ack");
    heartbeat();

    record = vm("job-1");
    EXPECT_EQ(record["state"], "deleted");
    std::vector<std::string> states;
    for (const auto& transition : record["transitions"]) {
        states.push_back(transition["state"]);
        EXPECT_TRUE(transition["at"].get<std::string>().ends_with("Z"));
    }
    EXPECT_EQ(states, (std::vector<std::string>{"pending", "assigned", "provisioning", "running", "deleting", "deleted"}));
    EXPECT_EQ(ci.del("/api/vms/job-1").status, 200) << "deleting is idempotent";
}

TEST_F(AgentProtocolTest, ALongPollReturnsAsSoonAsACommandExists) {
    heartbeat();
    auto poll = std::async(std::launch::async, [this] {
        auto poller = server.client(30s);
        return poller.get("/api/nodes/mac-1/commands?wait=25s");
    });
    // The poll is waiting; a placement gives it a command.
    EXPECT_EQ(poll.wait_for(100ms), std::future_status::timeout);
    ASSERT_EQ(ci.post_json("/api/schedule-vm", R"({"imageName":"macos-sonoma"})").status, 200);
    ASSERT_EQ(poll.wait_for(10s), std::future_status::ready) << "the poll must not wait out its 25 s";
    const auto response = poll.get();
    EXPECT_EQ(response.status, 200);
    const auto commands = json::parse(response.body)["commands"];
    ASSERT_EQ(commands.size(), 1u);
    EXPECT_EQ(commands[0]["type"], "createVm");
}

TEST_F(AgentProtocolTest, ALongPollWithNothingToDoEndsEmptyAtItsDeadline) {
    heartbeat();
    const auto deadline = server.clock().now() + 20s;
    auto poll = std::async(std::launch::async, [this] {
        auto poller = server.client(30s);
        return poller.get("/api/nodes/mac-1/commands?wait=20s");
    });
    // Time moves only once the daemon holds the wait; moved earlier, the wait would start late.
    ASSERT_TRUE(macvmorx::testing::eventually([&] { return server.clock().wake_up_expected_at(deadline); }));
    EXPECT_EQ(poll.wait_for(100ms), std::future_status::timeout);
    server.clock().advance(20s);
    ASSERT_EQ(poll.wait_for(10s), std::future_status::ready);
    const auto response = poll.get();
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(json::parse(response.body), json::parse(R"({"commands":[]})"));
    EXPECT_EQ(response.header("Cache-Control"), "no-store");
}

TEST_F(AgentProtocolTest, StoppingTheDaemonAnswersWaitingLongPolls) {
    heartbeat();
    auto poll = std::async(std::launch::async, [this] {
        auto poller = server.client(30s);
        return poller.get("/api/nodes/mac-1/commands?wait=60s");
    });
    EXPECT_EQ(poll.wait_for(100ms), std::future_status::timeout);
    const auto started = std::chrono::steady_clock::now();
    server.daemon().stop();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 1s) << "a waiting agent must not hold the shutdown up";
    ASSERT_EQ(poll.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(poll.get().status, 200);
}

TEST_F(AgentProtocolTest, AWaitingRequestIsQueuedAndPlacedWhenANodeFrees) {
    heartbeat(json::array({{{"vmId", "a"}, {"imageName", "x"}}, {{"vmId", "b"}, {"imageName", "x"}}}));
    const auto queued = ci.post_json("/api/schedule-vm", R"({"imageName":"macos-sonoma","wait":true})");
    ASSERT_EQ(queued.status, 202) << queued.body;
    const auto answer = json::parse(queued.body);
    EXPECT_EQ(answer["state"], "pending");
    EXPECT_TRUE(answer["nodeId"].is_null());
    const auto queue = json::parse(ci.get("/api/queue").body);
    ASSERT_EQ(queue.size(), 1u);
    EXPECT_EQ(queue[0]["vmId"], answer["vmId"]);

    const auto commands = heartbeat(json::array({{{"vmId", "a"}, {"imageName", "x"}}}))["commands"];
    ASSERT_EQ(commands.size(), 1u) << "placed as soon as a slot freed";
    EXPECT_EQ(commands[0]["vmId"], answer["vmId"]);
    EXPECT_EQ(vm(answer["vmId"])["state"], "assigned");
    EXPECT_EQ(json::parse(ci.get("/api/queue").body), json::array());
}

TEST_F(AgentProtocolTest, VmsAreListedAndFiltered) {
    heartbeat(json::array({{{"vmId", "handmade"}, {"imageName", "x"}}}));
    ci.post_json("/api/schedule-vm", R"({"imageName":"macos-sonoma","vmId":"job-9"})");
    const auto all = json::parse(ci.get("/api/vms").body);
    ASSERT_EQ(all.size(), 2u);
    const auto unmanaged = json::parse(ci.get("/api/vms?state=unmanaged").body);
    ASSERT_EQ(unmanaged.size(), 1u);
    EXPECT_EQ(unmanaged[0]["vmId"], "mac-1:handmade") << "in the node's namespace: no client can ask for it";
    EXPECT_EQ(unmanaged[0]["hostVmId"], "handmade") << "as the host names it";
    EXPECT_EQ(unmanaged[0]["managed"], false);
    EXPECT_EQ(ci.get("/api/vms/mac-1:handmade").status, 200);
    EXPECT_EQ(json::parse(ci.get("/api/vms?imageName=macos-sonoma&nodeId=mac-1").body).size(), 1u);
    EXPECT_EQ(json::parse(ci.get("/api/vms?nodeId=mac-2").body), json::array());
}

TEST_F(AgentProtocolTest, NodesCanBeDrainedUndrainedAndForgotten) {
    heartbeat();
    const auto drained = ci.request(macvmorx::http::Method::post, "/api/nodes/mac-1/drain");
    ASSERT_EQ(drained.status, 200);
    EXPECT_EQ(json::parse(drained.body)["drained"], true);
    EXPECT_EQ(json::parse(drained.body)["freeSlots"], 0);
    EXPECT_EQ(ci.post_json("/api/schedule-vm", R"({"imageName":"macos-sonoma"})").status, 503);
    const auto undrained = ci.request(macvmorx::http::Method::post, "/api/nodes/mac-1/undrain");
    EXPECT_EQ(json::parse(undrained.body)["drained"], false);
    EXPECT_EQ(ci.post_json("/api/schedule-vm", R"({"imageName":"macos-sonoma"})").status, 200);

    EXPECT_EQ(ci.del("/api/nodes/mac-1").status, 409) << "an online node cannot be forgotten";
    server.clock().advance(31s);
    server.daemon().orchestrator().sweep();
    EXPECT_EQ(ci.del("/api/nodes/mac-1").status, 200);
    EXPECT_EQ(ci.get("/api/nodes/mac-1").status, 404);
}

TEST_F(AgentProtocolTest, BadAgentAndClientRequestsGetClearErrors) {
    heartbeat();
    const auto expect_error = [](const macvmorx::http::ClientResponse& response, int status) {
        EXPECT_EQ(response.status, status) << response.body;
        EXPECT_TRUE(json::parse(response.body).contains("error")) << response.body;
    };
    using macvmorx::http::Method;
    expect_error(agent.request(Method::post, "/api/nodes/mac-1/commands/cmd-nope/ack"), 404);
    expect_error(agent.get("/api/nodes/mac-unknown/commands"), 404);
    expect_error(agent.get("/api/nodes/mac-1/commands?wait=banana"), 422);
    expect_error(agent.get("/api/nodes/mac-1/commands?wait=5m"), 422);
    expect_error(agent.post_json("/api/vms/nope/events", R"({"state":"running"})"), 404);
    expect_error(ci.get("/api/vms?state=sleeping"), 422);
    expect_error(ci.get("/api/vms/nope"), 404);
    expect_error(ci.del("/api/vms/nope"), 404);
    expect_error(ci.request(Method::post, "/api/nodes/mac-unknown/drain"), 404);

    ASSERT_EQ(ci.post_json("/api/schedule-vm", R"({"imageName":"macos-sonoma","vmId":"job-1"})").status, 200);
    expect_error(ci.post_json("/api/schedule-vm", R"({"imageName":"other","vmId":"job-1"})"), 409);
    expect_error(agent.post_json("/api/vms/job-1/events", R"({"state":"sleeping"})"), 422);
    expect_error(agent.post_json("/api/vms/job-1/events", R"({"message":"no state"})"), 400);
    expect_error(agent.post_json("/api/vms/job-1/events", R"({"state":"deleted"})"), 409);
    expect_error(agent.post_json("/api/vms/job-1/events", R"({"state":"running","progress":7})"), 422);
    expect_error(ci.post_json("/api/schedule-vm", R"({"imageName":"x","metadata":")" + std::string(9000, 'a') + "\"}"),
                 400);
    expect_error(ci.post_json("/api/schedule-vm",
                              R"({"imageName":"x","metadata":{"blob":")" + std::string(9000, 'a') + "\"}}"),
                 422);
    expect_error(ci.post_json("/api/schedule-vm", R"({"imageName":"x","cpu":0})"), 422);
    expect_error(ci.post_json("/api/schedule-vm", R"({"imageName":"x","wait":"yes"})"), 400);
    expect_error(ci.post_json("/api/schedule-vm", R"({"imageName":"x","vmId":"has space"})"), 422);
    EXPECT_EQ(json::parse(ci.get("/api/vms").body).size(), 1u) << "refused requests made no records";
}

// Issue 21: an image may be an object in a bucket. Its URL is checked where it comes in; a VM of
// a well-formed one is placed like any other, and its create command names the same image.
TEST_F(AgentProtocolTest, ABucketObjectIsAnImageAndAMalformedOneIsRefusedWithTheReason) {
    heartbeat();
    const auto placed = ci.post_json("/api/schedule-vm", R"({"imageName":"gs://acme-images/macos/sequoia.tvm"})");
    ASSERT_EQ(placed.status, 200) << placed.body;
    EXPECT_EQ(json::parse(placed.body)["imageName"], "gs://acme-images/macos/sequoia.tvm");
    const auto commands = json::parse(agent.get("/api/nodes/mac-1/commands").body);
    ASSERT_FALSE(commands["commands"].empty()) << commands.dump();
    EXPECT_EQ(commands["commands"][0]["imageName"], "gs://acme-images/macos/sequoia.tvm");

    for (const char* name : {"gs://acme-images/../other-lab/sequoia.tvm", "s3://Acme/sequoia.tvm", "gs://acme-images",
                             "ftp://acme-images/sequoia.tvm", "s3://acme-images/macos//sequoia.tvm"}) {
        const auto refused = ci.post_json("/api/schedule-vm", std::string{R"({"imageName":")"} + name + "\"}");
        EXPECT_EQ(refused.status, 422) << name << ": " << refused.body;
        const auto error = json::parse(refused.body);
        EXPECT_EQ(error["field"], "imageName") << refused.body;
        EXPECT_NE(error["detail"].get<std::string>().find(name), std::string::npos) << refused.body;
    }
    EXPECT_EQ(json::parse(ci.get("/api/vms").body).size(), 1u) << "refused requests made no records";
}
