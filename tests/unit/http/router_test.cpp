#include "macvmorx/http/router.hpp"
#include "macvmorx/base/invalid_input.hpp"

#include "macvmorx/http/http_error.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using macvmorx::http::Body;
using macvmorx::http::Method;
using macvmorx::http::Request;
using macvmorx::http::Response;
using macvmorx::http::Router;

namespace {

Response echo(const Request& request) {
    nlohmann::json out;
    out["path"] = request.path;
    for (const auto& [name, value] : request.path_params) out["params"][name] = value;
    for (const auto& [name, value] : request.query) out["query"][name] = value;
    return Response::json(200, out.dump());
}

class RouterTest : public ::testing::Test {
protected:
    RouterTest() {
        router.add({Method::get, "/api/nodes", echo, "list"});
        router.add({Method::get, "/api/nodes/{nodeId}", echo, "one"});
        router.add({Method::get, "/api/nodes/special", [](const Request&) { return Response::json(200, R"("special")"); }, "literal"});
        router.add({Method::post, "/api/nodes/{nodeId}/drain", echo, "drain", Body::none});
        router.add({Method::post, "/api/heartbeat", echo, "heartbeat", Body::json});
        router.add({Method::get, "/boom", [](const Request&) -> Response { throw std::runtime_error("secret detail"); }, "fails"});
        router.add({Method::get, "/teapot", [](const Request&) -> Response { throw macvmorx::InvalidValue("bad", "field"); }, "refuses"});
        router.add({Method::get, "/later", macvmorx::http::AsyncHandler{[this](const Request&, std::shared_ptr<macvmorx::http::Reply> reply) {
                        pending = std::move(reply);
                    }}, "answers later"});
        router.add({Method::get, "/async-refuses", macvmorx::http::AsyncHandler{[](const Request&, std::shared_ptr<macvmorx::http::Reply>) {
                        throw macvmorx::http::NotFound("nothing here");
                    }}, "refuses before answering"});
    }

    // Keeps what an asynchronous route answers.
    struct Captured : macvmorx::http::Reply {
        std::vector<Response> answers;
        void send(Response response) override { answers.push_back(std::move(response)); }
    };
    std::shared_ptr<macvmorx::http::Reply> pending;

    Response call(Method method, std::string target, std::string body = {}, std::string content_type = {}) {
        Request request;
        request.method = method;
        request.target = std::move(target);
        request.body = std::move(body);
        if (!content_type.empty()) request.headers.push_back({"Content-Type", content_type});
        return router.handle(request);
    }

    static nlohmann::json json(const Response& response) { return nlohmann::json::parse(response.body); }

    Router router;
};

} // namespace

TEST_F(RouterTest, MatchesLiteralAndNamedSegments) {
    const auto response = call(Method::get, "/api/nodes/mac-1");
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(json(response)["params"]["nodeId"], "mac-1");
    EXPECT_EQ(json(call(Method::post, "/api/nodes/mac-2/drain"))["params"]["nodeId"], "mac-2");
}

TEST_F(RouterTest, ALiteralSegmentBeatsANamedOne) {
    EXPECT_EQ(call(Method::get, "/api/nodes/special").body, R"("special")");
}

TEST_F(RouterTest, DecodesPercentEscapesAndQueryParameters) {
    const auto response = json(call(Method::get, "/api/nodes/mac%2D1?state=running&image=macos%20sonoma"));
    EXPECT_EQ(response["params"]["nodeId"], "mac-1");
    EXPECT_EQ(response["query"]["state"], "running");
    EXPECT_EQ(response["query"]["image"], "macos sonoma");
}

TEST_F(RouterTest, ATrailingSlashNamesTheSameResource) {
    EXPECT_EQ(json(call(Method::get, "/api/nodes/"))["path"], "/api/nodes");
}

TEST_F(RouterTest, AnUnknownPathIsA404WithAJsonError) {
    const auto response = call(Method::get, "/api/nope");
    EXPECT_EQ(response.status, 404);
    EXPECT_EQ(response.content_type, "application/json");
    EXPECT_EQ(json(response)["error"], "not found");
}

TEST_F(RouterTest, AKnownPathWithAnotherMethodIsA405NamingTheAllowedOnes) {
    const auto response = call(Method::del, "/api/nodes");
    EXPECT_EQ(response.status, 405);
    EXPECT_EQ(response.header("Allow"), "GET, HEAD, OPTIONS");
    EXPECT_EQ(call(Method::get, "/api/heartbeat").header("Allow"), "POST, OPTIONS");
}

TEST_F(RouterTest, OptionsAnswersWithTheAllowedMethods) {
    const auto response = call(Method::options, "/api/heartbeat");
    EXPECT_EQ(response.status, 204);
    EXPECT_EQ(response.header("Allow"), "POST, OPTIONS");
}

TEST_F(RouterTest, HeadIsServedByTheGetRoute) { EXPECT_EQ(call(Method::head, "/api/nodes").status, 200); }

TEST_F(RouterTest, AJsonRouteRefusesAnotherContentTypeWith415) {
    EXPECT_EQ(call(Method::post, "/api/heartbeat", "{}", "text/plain").status, 415);
    EXPECT_EQ(call(Method::post, "/api/heartbeat", "a=b", "application/x-www-form-urlencoded").status, 415);
    EXPECT_EQ(call(Method::post, "/api/heartbeat", "{}", "application/json").status, 200);
    EXPECT_EQ(call(Method::post, "/api/heartbeat", "{}", "Application/JSON; charset=utf-8").status, 200);
    EXPECT_EQ(call(Method::post, "/api/heartbeat", "{}", "application/vnd.macvmorx+json").status, 200);
    // A body without a media type is what a web page may post to any site without asking
    // (fetch with a Blob): JSON must say it is JSON.
    EXPECT_EQ(call(Method::post, "/api/heartbeat", "{}").status, 415);
}

TEST_F(RouterTest, AnHttpErrorBecomesItsStatusAndFields) {
    const auto response = call(Method::get, "/teapot");
    EXPECT_EQ(response.status, 422);
    EXPECT_EQ(json(response)["field"], "field");
    EXPECT_EQ(json(response)["detail"], "bad");
}

TEST_F(RouterTest, AnyOtherExceptionIsA500ThatRevealsNothing) {
    const auto response = call(Method::get, "/boom");
    EXPECT_EQ(response.status, 500);
    EXPECT_EQ(response.body.find("secret"), std::string::npos);
}

TEST_F(RouterTest, AnInvalidTargetIsA400) {
    EXPECT_EQ(call(Method::get, "no-leading-slash").status, 400);
    EXPECT_EQ(call(Method::get, "/api/nodes/%zz").status, 400);
}

TEST_F(RouterTest, JsonAnswersAreNotCached) {
    EXPECT_EQ(call(Method::get, "/api/nodes").header("Cache-Control"), "no-store");
}

TEST_F(RouterTest, AnAsynchronousRouteAnswersThroughItsReplyLater) {
    Request request;
    request.target = "/later";
    auto captured = std::make_shared<Captured>();
    router.dispatch(request, captured);
    EXPECT_TRUE(captured->answers.empty());
    ASSERT_NE(pending, nullptr);
    pending->send(Response::json(200, "{}"));
    ASSERT_EQ(captured->answers.size(), 1u);
    EXPECT_EQ(captured->answers[0].header("Cache-Control"), "no-store") << "finished like any other answer";
    EXPECT_EQ(call(Method::get, "/later").status, 500) << "handle() cannot wait for it";
}

TEST_F(RouterTest, AnAsynchronousRouteThatThrowsIsAnsweredWithItsError) {
    Request request;
    request.target = "/async-refuses";
    auto captured = std::make_shared<Captured>();
    router.dispatch(request, captured);
    ASSERT_EQ(captured->answers.size(), 1u);
    EXPECT_EQ(captured->answers[0].status, 404);
}

TEST_F(RouterTest, TheTableListsEveryRouteInOrder) {
    ASSERT_EQ(router.routes().size(), 9u);
    EXPECT_EQ(router.routes()[0].pattern, "/api/nodes");
    EXPECT_EQ(router.routes()[4].summary, "heartbeat");
}
