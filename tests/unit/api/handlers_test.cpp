// The API below the socket: requests go through the real route table and handlers, in process.

#include "macvmorx/api/api_context.hpp"
#include "macvmorx/api/handlers.hpp"
#include "macvmorx/api/routes.hpp"
#include "macvmorx/base/id_source.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"
#include "macvmorx/web/web_assets.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <nlohmann/json.hpp>

using namespace std::chrono_literals;
using macvmorx::http::Method;
using macvmorx::http::Request;
using macvmorx::http::Response;
using nlohmann::json;

namespace {

class HandlersTest : public ::testing::Test {
protected:
    macvmorx::ManualClock clock;
    macvmorx::SequentialIdSource ids;
    macvmorx::orchestrator::Orchestrator orchestrator{{30s, {2}, {}, {}}, clock, ids};
    macvmorx::web::WebAssets web = macvmorx::web::WebAssets::embedded();
    macvmorx::api::ApiContext context{orchestrator, web};
    macvmorx::http::Router router = macvmorx::api::build_router(context);

    Response call(Method method, std::string target, std::string body = {}) {
        Request request;
        request.method = method;
        request.target = std::move(target);
        request.body = std::move(body);
        request.headers.push_back({"Content-Type", "application/json"});
        return router.handle(request);
    }

    Response heartbeat(const std::string& node_id, const std::string& images = "[]", double cpu = 10) {
        return call(Method::post, "/api/heartbeat",
                    json{{"nodeId", node_id}, {"cpuUsagePercent", cpu}, {"cachedImages", json::parse(images)}}.dump());
    }
};

} // namespace

TEST_F(HandlersTest, AHeartbeatIsAcknowledged) {
    const auto response = heartbeat("mac-1");
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.content_type, "application/json");
    EXPECT_EQ(json::parse(response.body), json({{"message", "Heartbeat received"}}));
}

TEST_F(HandlersTest, TheHeartbeatHandlerCanBeCalledWithoutTheRouter) {
    Request request;
    request.body = R"({"nodeId":"direct"})";
    struct Captured : macvmorx::http::Reply {
        std::optional<macvmorx::http::Response> response;
        void send(macvmorx::http::Response sent) override { response = std::move(sent); }
    };
    auto reply = std::make_shared<Captured>();
    macvmorx::api::handle_heartbeat(request, context, reply);
    ASSERT_TRUE(reply->response);
    EXPECT_EQ(reply->response->status, 200);
    EXPECT_NE(orchestrator.node("direct"), nullptr);
}

TEST_F(HandlersTest, AnEmptyFleetListsAsAnEmptyArray) {
    const auto response = call(Method::get, "/api/nodes");
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.body, "[]");
}

TEST_F(HandlersTest, NodesAreListedSortedById) {
    heartbeat("mac-b");
    heartbeat("mac-a");
    heartbeat("build-1");
    const auto nodes = json::parse(call(Method::get, "/api/nodes").body);
    ASSERT_EQ(nodes.size(), 3u);
    EXPECT_EQ(nodes[0]["nodeId"], "build-1");
    EXPECT_EQ(nodes[1]["nodeId"], "mac-a");
    EXPECT_EQ(nodes[2]["nodeId"], "mac-b");
    EXPECT_EQ(nodes[0]["isOnline"], true);
}

TEST_F(HandlersTest, OneNodeOrA404) {
    heartbeat("mac-1", R"(["sonoma"])", 33);
    const auto node = json::parse(call(Method::get, "/api/nodes/mac-1").body);
    EXPECT_EQ(node["nodeId"], "mac-1");
    EXPECT_EQ(node["cpuUsagePercent"], 33);
    EXPECT_EQ(node["cachedImages"], json::parse(R"(["sonoma"])"));
    const auto missing = call(Method::get, "/api/nodes/mac-404");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(json::parse(missing.body)["error"], "node not found");
}

TEST_F(HandlersTest, SchedulingAnswersTheNodeAndWhetherTheImageIsCached) {
    heartbeat("mac-1", R"(["sonoma"])");
    heartbeat("mac-2", R"([])", 1);
    const auto response = call(Method::post, "/api/schedule-vm", R"({"imageName":"sonoma"})");
    EXPECT_EQ(response.status, 200);
    const auto answer = json::parse(response.body);
    EXPECT_EQ(answer["message"], "VM scheduled successfully");
    EXPECT_EQ(answer["nodeId"], "mac-1");
    EXPECT_EQ(answer["imageCached"], true);
    EXPECT_EQ(answer["vmId"], "vm-0000000000000001");
    EXPECT_EQ(answer["state"], "assigned");
}

TEST_F(HandlersTest, SchedulingWithNoFreeSlotIsA503) {
    const auto response = call(Method::post, "/api/schedule-vm", R"({"imageName":"sonoma"})");
    EXPECT_EQ(response.status, 503);
    EXPECT_EQ(json::parse(response.body)["error"], "no suitable node");
    EXPECT_EQ(response.header("Retry-After"), "5");
}

TEST_F(HandlersTest, SchedulingRefusesAMissingOrInvalidImageName) {
    heartbeat("mac-1");
    EXPECT_EQ(call(Method::post, "/api/schedule-vm", "{}").status, 400);
    EXPECT_EQ(call(Method::post, "/api/schedule-vm", R"({"imageName":42})").status, 400);
    EXPECT_EQ(call(Method::post, "/api/schedule-vm", R"({"imageName":""})").status, 422);
    EXPECT_EQ(call(Method::post, "/api/schedule-vm", R"({"imageName":"a b"})").status, 422);
    EXPECT_EQ(orchestrator.scheduler().reserved_slots("mac-1"), 0) << "a refused request books nothing";
}

TEST_F(HandlersTest, ARefusedHeartbeatChangesNoState) {
    heartbeat("mac-1", "[]", 10);
    EXPECT_EQ(call(Method::post, "/api/heartbeat", R"({"nodeId":"mac-1","cpuUsagePercent":500})").status, 422);
    EXPECT_EQ(call(Method::post, "/api/heartbeat", R"({"nodeId":"mac-2","cpuUsagePercent":500})").status, 422);
    EXPECT_EQ(orchestrator.node("mac-1")->report.cpu_usage_percent, 10);
    EXPECT_EQ(orchestrator.node("mac-2"), nullptr);
}

TEST_F(HandlersTest, TheDashboardIsServedAsHtmlWithAnEtag) {
    const auto page = call(Method::get, "/");
    EXPECT_EQ(page.status, 200);
    EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
    EXPECT_NE(page.body.find("<html"), std::string::npos);
    ASSERT_TRUE(page.header("ETag"));
    EXPECT_EQ(page.header("Content-Security-Policy"),
              "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    EXPECT_EQ(page.header("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(page.header("X-Frame-Options"), "DENY");

    Request again;
    again.target = "/";
    again.headers.push_back({"If-None-Match", std::string(*page.header("ETag"))});
    const auto cached = router.handle(again);
    EXPECT_EQ(cached.status, 304);
    EXPECT_TRUE(cached.body.empty());
}

TEST_F(HandlersTest, AssetNamesCannotLeaveTheAssetDirectory) {
    EXPECT_EQ(call(Method::get, "/assets/..%2F..%2Fetc%2Fpasswd").status, 404);
    EXPECT_EQ(call(Method::get, "/assets/.hidden").status, 404);
    EXPECT_EQ(call(Method::get, "/assets/missing.js").status, 404);
}

TEST_F(HandlersTest, TheFleetSummaryCountsNodesSlotsAndVms) {
    heartbeat("mac-1");
    heartbeat("mac-2");
    call(Method::post, "/api/nodes/mac-2/drain");
    ASSERT_EQ(call(Method::post, "/api/schedule-vm", R"({"imageName":"sonoma"})").status, 200);
    const auto summary = json::parse(call(Method::get, "/api/fleet").body);
    EXPECT_EQ(summary["nodes"]["total"], 2);
    EXPECT_EQ(summary["nodes"]["online"], 2);
    EXPECT_EQ(summary["nodes"]["draining"], 1);
    EXPECT_EQ(summary["nodes"]["acceptingVms"], 1);
    EXPECT_EQ(summary["slots"]["total"], 2);
    EXPECT_EQ(summary["slots"]["free"], 1);
    EXPECT_EQ(summary["slots"]["reserved"], 1);
    EXPECT_EQ(summary["vms"]["assigned"], 1);
    EXPECT_EQ(summary["vms"]["total"], 1);
    EXPECT_EQ(summary["queueLength"], 0);
}
