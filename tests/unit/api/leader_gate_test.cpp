// The gate of a daemon that may follow (docs/high-availability.md): what each role answers.

#include "macvmorx/api/leadership.hpp"
#include "macvmorx/http/http_error.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

using macvmorx::api::LeaderGate;
using macvmorx::api::Leadership;
using macvmorx::http::Access;
using macvmorx::http::HttpError;
using macvmorx::http::Method;

namespace {

macvmorx::http::Route route(Method method, std::string pattern, Access access = Access::operate) {
    return {method, std::move(pattern), macvmorx::http::Handler{}, "", macvmorx::http::Body::none, access};
}

// The error the gate throws for a request, or nullopt when it lets the request through.
std::optional<HttpError> refusal(const LeaderGate& gate, const macvmorx::http::Route& route, const std::string& target) {
    macvmorx::http::Request request;
    request.method = route.method;
    request.target = target;
    try {
        gate.check(route, request);
        return std::nullopt;
    } catch (const HttpError& error) {
        return error;
    }
}

std::string header(const HttpError& error, const std::string& name) {
    for (const auto& [key, value] : error.headers()) {
        if (key == name) return value;
    }
    return {};
}

} // namespace

TEST(LeaderGate, AFollowerRedirectsToTheLeaderOrAnswers503WhileNoneIsKnown) {
    Leadership leadership{"http://b:9000"};
    bool failing = false;
    const LeaderGate gate{leadership, [&] { return failing; }};
    const auto place = route(Method::post, "/api/schedule-vm");

    auto error = refusal(gate, place, "/api/schedule-vm");
    ASSERT_TRUE(error);
    EXPECT_EQ(error->status(), 503) << "no leader known yet";
    EXPECT_EQ(header(*error, "Retry-After"), "1");

    leadership.follow("http://a:9000", 1);
    error = refusal(gate, place, "/api/schedule-vm?x=1");
    ASSERT_TRUE(error);
    EXPECT_EQ(error->status(), 307);
    EXPECT_EQ(header(*error, "Location"), "http://a:9000/api/schedule-vm?x=1");
    for (const char* own : {"/healthz", "/readyz", "/metrics"}) {
        EXPECT_FALSE(refusal(gate, route(Method::get, own, Access::open), own)) << own << " is answered by every daemon";
    }

    leadership.start_leading(2);
    error = refusal(gate, route(Method::get, "/api/nodes", Access::read), "/api/nodes");
    ASSERT_TRUE(error);
    EXPECT_EQ(error->status(), 503) << "still loading the records";
}

TEST(LeaderGate, ALeaderWithoutItsDatabaseAnswersReadsAndAgentsButRefusesOtherWrites) {
    Leadership leadership{"http://a:9000"};
    bool failing = false;
    const LeaderGate gate{leadership, [&] { return failing; }};
    leadership.start_leading(1);
    leadership.lead();
    const auto place = route(Method::post, "/api/schedule-vm");
    const auto heartbeat = route(Method::post, "/api/heartbeat", Access::report);
    const auto list = route(Method::get, "/api/vms", Access::read);
    EXPECT_FALSE(refusal(gate, place, "/api/schedule-vm"));

    failing = true;
    auto error = refusal(gate, place, "/api/schedule-vm");
    ASSERT_TRUE(error);
    EXPECT_EQ(error->status(), 503);
    EXPECT_EQ(header(*error, "Retry-After"), "2");
    EXPECT_FALSE(refusal(gate, heartbeat, "/api/heartbeat")) << "agents' reports are kept";
    EXPECT_FALSE(refusal(gate, list, "/api/vms")) << "reads come from memory";

    failing = false;
    leadership.suspend();
    EXPECT_TRUE(refusal(gate, place, "/api/schedule-vm")) << "a suspended leader takes no write";
    EXPECT_FALSE(refusal(gate, list, "/api/vms"));
}
