// Connections: keep-alive, deadlines for idle and slow clients, 100-continue, many clients.

#include "raw_connection.hpp"
#include "test_daemon.hpp"

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <algorithm>
#include <thread>

using namespace std::chrono_literals;
using macvmorx::testing::RawConnection;
using macvmorx::testing::status_of;
using macvmorx::testing::TestDaemon;

TEST(Connections, KeepAliveServesManyRequestsOnOneConnection) {
    TestDaemon server;
    auto client = server.client();
    for (int i = 0; i < 50; ++i) {
        ASSERT_EQ(client.post_json("/api/heartbeat", R"({"nodeId":"mac-)" + std::to_string(i) + R"("})").status, 200);
        ASSERT_EQ(client.get("/api/nodes").status, 200);
    }
    EXPECT_EQ(client.connections_opened(), 1u);
}

TEST(Connections, PipelinedRequestsAreAnsweredInOrder) {
    TestDaemon server;
    RawConnection raw{server.port()};
    raw.send("GET /api/nodes HTTP/1.1\r\nHost: x\r\n\r\nGET /api/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const auto both = raw.read_until_closed();
    const auto second = both.find("HTTP/1.1 404");
    EXPECT_EQ(status_of(both), 200) << both;
    EXPECT_NE(second, std::string::npos) << both;
}

TEST(Connections, ConnectionCloseIsHonoured) {
    TestDaemon server;
    RawConnection raw{server.port()};
    raw.send("GET /api/nodes HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const auto response = raw.read_until_closed();
    EXPECT_EQ(status_of(response), 200);
    EXPECT_TRUE(raw.closed_by_peer());
}

TEST(Connections, AnIdleConnectionIsClosedAfterTheIdleTimeout) {
    auto config = macvmorx::testing::test_config();
    config.idle_timeout = 200ms;
    TestDaemon server{config};
    RawConnection raw{server.port()};
    raw.read_until_closed(3s);
    EXPECT_TRUE(raw.closed_by_peer());
}

TEST(Connections, ASlowlorisClientIsCutOffAndOthersAreStillServed) {
    auto config = macvmorx::testing::test_config();
    config.idle_timeout = 300ms;
    TestDaemon server{config};
    RawConnection slow{server.port()};
    const auto started = std::chrono::steady_clock::now();
    // One header byte at a time, never finishing: the deadline covers the whole header.
    const std::string request = "GET /api/nodes HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    bool still_open = true;
    for (std::size_t i = 0; still_open && std::chrono::steady_clock::now() - started < 5s; ++i) {
        still_open = slow.send(std::string(1, i < request.size() ? request[i] : 'a'));
        EXPECT_EQ(server.client().get("/api/nodes").status, 200);
        std::this_thread::sleep_for(20ms);
    }
    slow.read_until_closed(2s);
    EXPECT_TRUE(!still_open || slow.closed_by_peer());
}

TEST(Connections, ABodyThatStopsArrivingIsCutOffByTheIoTimeout) {
    auto config = macvmorx::testing::test_config();
    config.io_timeout = 200ms;
    TestDaemon server{config};
    RawConnection raw{server.port()};
    raw.send("POST /api/heartbeat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{");
    raw.read_until_closed(3s);
    EXPECT_TRUE(raw.closed_by_peer());
    EXPECT_EQ(server.client().get("/api/nodes").body, "[]") << "the partial heartbeat stored nothing";
}

TEST(Connections, ExpectContinueGetsA100BeforeTheBody) {
    TestDaemon server;
    RawConnection raw{server.port()};
    const std::string body = R"({"nodeId":"mac-continue"})";
    raw.send("POST /api/heartbeat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
             "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n");
    const auto interim = raw.read_response(2s);
    EXPECT_EQ(status_of(interim), 100) << interim;
    raw.send(body);
    EXPECT_EQ(status_of(raw.read_response()), 200);
}

TEST(Connections, ConnectionsBeyondTheLimitAreRefusedAndServiceResumes) {
    auto config = macvmorx::testing::test_config();
    config.max_connections = 3;
    TestDaemon server{config};
    std::vector<std::unique_ptr<RawConnection>> held;
    for (int i = 0; i < 3; ++i) {
        held.push_back(std::make_unique<RawConnection>(server.port()));
        held.back()->send("GET /api/nodes HTTP/1.1\r\nHost: x\r\n\r\n");
        ASSERT_EQ(status_of(held.back()->read_response()), 200);
    }
    RawConnection refused{server.port()};
    refused.read_until_closed(2s);
    EXPECT_TRUE(refused.closed_by_peer());
    held.clear();
    EXPECT_TRUE(macvmorx::testing::eventually([&] {
        RawConnection again{server.port()};
        again.send("GET /api/nodes HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        return status_of(again.read_until_closed(1s)) == 200;
    }));
}

// Agents' long polls are counted apart: a fleet whose agents all wait for commands does not
// lock the dashboard out, and the waits have their own bound.
TEST(Connections, WaitingLongPollsDoNotCountAgainstTheConnectionLimit) {
    auto config = macvmorx::testing::test_config();
    // The agent's own keep-alive connection, the dashboard's and the fifth poll's (the dashboard's
    // may not be gone yet): three, while four more connections wait in long polls.
    config.max_connections = 3;
    config.max_long_polls = 4;
    TestDaemon server{config};
    auto agent = server.client();
    for (int i = 0; i < 5; ++i) {
        ASSERT_EQ(agent.post_json("/api/heartbeat", R"({"nodeId":"mac-)" + std::to_string(i) + R"("})").status, 200);
    }
    std::vector<std::unique_ptr<RawConnection>> polls;
    for (int i = 0; i < 4; ++i) {
        polls.push_back(std::make_unique<RawConnection>(server.port()));
        polls.back()->send("GET /api/nodes/mac-" + std::to_string(i) + "/commands?wait=20s HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    ASSERT_TRUE(macvmorx::testing::eventually([&] { return server.daemon().long_polls_waiting() == 4; }))
        << server.daemon().long_polls_waiting();
    // Five connections open, four of them parked in long polls, the limit three: the dashboard
    // still gets in.
    RawConnection dashboard{server.port()};
    dashboard.send("GET /api/nodes HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(status_of(dashboard.read_until_closed(2s)), 200);
    // A fifth long poll finds the waits all taken.
    RawConnection fifth{server.port()};
    fifth.send("GET /api/nodes/mac-4/commands?wait=20s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const auto refused = fifth.read_until_closed(2s);
    EXPECT_EQ(status_of(refused), 503) << refused;
    EXPECT_NE(refused.find("Retry-After: 5"), std::string::npos) << refused;
    EXPECT_NE(refused.find("too many long polls"), std::string::npos) << refused;
    // A wait that ends gives its place back.
    polls.clear();
    EXPECT_TRUE(macvmorx::testing::eventually([&] { return server.daemon().long_polls_waiting() == 0; }));
}

TEST(Connections, TheDaemonRaisesItsOpenFilesLimitForItsConnections) {
    rlimit before{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &before), 0);
    auto config = macvmorx::testing::test_config();
    config.max_connections = 3000;
    config.max_long_polls = 3000;
    TestDaemon server{config};
    rlimit after{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &after), 0);
    const rlim_t wanted = 3000 + 3000 + 512;
    EXPECT_GE(after.rlim_cur, std::min(after.rlim_max, wanted)) << "soft " << before.rlim_cur << " -> " << after.rlim_cur;
}
