// Several daemons on one real PostgreSQL (tests/support/postgres_cluster.hpp), run as an operator
// runs them (the binary, signals), and a real HAProxy in front (docs/haproxy/macvmorx.cfg): one
// leads and the others follow; a leader killed (SIGKILL) or paused (SIGSTOP) past its lease is
// replaced, with every acknowledged placement kept and no slot booked twice; a paused leader
// that wakes writes nothing; PostgreSQL restarted under the leader loses nothing acknowledged.

#include "daemon_process.hpp"
#include "free_port.hpp"
#include "postgres_cluster.hpp"
#include "test_daemon.hpp"

#include "macvmorx/http/client.hpp"
#include "macvmorx/sim/fleet_simulator.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

using namespace std::chrono_literals;
using macvmorx::http::ClientResponse;
using macvmorx::http::HttpClient;
using macvmorx::http::Method;
using macvmorx::testing::DaemonProcess;
using macvmorx::testing::eventually;
using macvmorx::testing::free_loopback_port;
using nlohmann::json;

namespace {

const std::string daemon_binary = MACVMORX_BINARY;
const std::string ha_image = "ghcr.io/acme/macos-sequoia:15";

// One request on a connection of its own; nullopt when nothing answers (the daemon is down or
// paused past `timeout`).
std::optional<ClientResponse> ask(std::uint16_t port, Method method, const std::string& target,
                                  const std::string& body = {}, macvmorx::Duration timeout = 5s) {
    try {
        HttpClient client{"127.0.0.1", port, timeout};
        std::vector<macvmorx::http::Header> headers;
        if (!body.empty()) headers.push_back({"Content-Type", "application/json"});
        return client.request(method, target, body, headers);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// `macvmorx server` on the shared database, with a short lease so that tests fail over fast.
class HaDaemon {
public:
    HaDaemon(const std::string& database_url, const std::string& lease = "2s") : port_{free_loopback_port()} {
        std::vector<std::string> arguments{"server",         "--bind",       "127.0.0.1",  "--port",
                                           std::to_string(port_), "--database-url", database_url, "--advertise-url",
                                           url(),            "--lease-duration", lease,    "--monitor-interval",
                                           "1s"};
        process_ = std::make_unique<DaemonProcess>(daemon_binary, arguments);
        if (!process_->wait_for_port()) throw std::runtime_error("the daemon did not start: " + process_->output());
    }

    std::uint16_t port() const { return port_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    DaemonProcess& process() { return *process_; }

    // What /readyz says of this daemon's role ("leader", "follower", "starting"), or "" if it
    // does not answer.
    std::string role() {
        const auto answer = ask(port_, Method::get, "/readyz", {}, 1s);
        if (!answer) return {};
        const auto body = json::parse(answer->body, nullptr, false);
        return body.is_object() && body.contains("role") ? body["role"].get<std::string>() : std::string{};
    }

    bool wait_for_role(const std::string& wanted, macvmorx::Duration limit) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            if (role() == wanted) return true;
            std::this_thread::sleep_for(50ms);
        }
        return false;
    }

    // Until it follows `leader`: it has read the lease and knows where to send clients.
    bool wait_to_follow(const HaDaemon& leader, macvmorx::Duration limit) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            const auto answer = ask(port_, Method::get, "/readyz", {}, 1s);
            const auto body = answer ? json::parse(answer->body, nullptr, false) : json{};
            if (body.is_object() && body.value("role", "") == "follower" && body["leader"] == leader.url()) return true;
            std::this_thread::sleep_for(50ms);
        }
        return false;
    }

private:
    std::uint16_t port_;
    std::unique_ptr<DaemonProcess> process_;
};

std::string heartbeat_of(int node) {
    return json{{"nodeId", "mac-" + std::to_string(node)},
                {"totalMemoryGB", 64},
                {"memoryUsageGB", 4},
                {"status", "online"},
                {"vmCount", 0},
                {"vms", json::array()}}
        .dump();
}

// Heartbeats from `nodes` Macs; the vmIds of the createVm commands their answers carry.
std::set<std::string> report(std::uint16_t port, int nodes) {
    std::set<std::string> to_create;
    for (int node = 0; node < nodes; ++node) {
        const auto answer = ask(port, Method::post, "/api/heartbeat", heartbeat_of(node));
        if (!answer || answer->status != 200) continue;
        const auto body = json::parse(answer->body);
        for (const auto& command : body.value("commands", json::array())) {
            if (command["type"] == "createVm") to_create.insert(command["vmId"].get<std::string>());
        }
    }
    return to_create;
}

// The VMs a daemon knows, by id: their node and state.
std::map<std::string, json> vms_of(std::uint16_t port) {
    std::map<std::string, json> vms;
    const auto answer = ask(port, Method::get, "/api/vms");
    if (!answer || answer->status != 200) return vms;
    for (const auto& vm : json::parse(answer->body)) vms[vm["vmId"].get<std::string>()] = vm;
    return vms;
}

// No node holds more VMs being made or running than its two slots.
void expect_no_slot_booked_twice(const std::map<std::string, json>& vms) {
    std::map<std::string, int> per_node;
    for (const auto& [id, vm] : vms) {
        const auto state = vm["state"].get<std::string>();
        if (state == "assigned" || state == "provisioning" || state == "running") {
            ++per_node[vm["nodeId"].get<std::string>()];
        }
    }
    for (const auto& [node, count] : per_node) EXPECT_LE(count, 2) << node << " is booked " << count << " times";
}

// Clients placing VMs as fast as they are answered, each with a vmId of its own (so that a retry
// is the same request), until stopped; what was acknowledged (200) and what was refused.
class PlacementStorm {
public:
    PlacementStorm(std::function<std::uint16_t()> port_of, int clients) {
        for (int client = 0; client < clients; ++client) {
            threads_.emplace_back([this, port_of, client] {
                for (int i = 0; !stopping_; ++i) {
                    const std::string vm_id = "c" + std::to_string(client) + "-" + std::to_string(i);
                    const auto body = json{{"imageName", ha_image}, {"vmId", vm_id}}.dump();
                    const auto answer = ask(port_of(), Method::post, "/api/schedule-vm", body, 2s);
                    std::lock_guard lock{mutex_};
                    if (answer && answer->status == 200) {
                        acknowledged_.insert(vm_id);
                    } else {
                        ++refused_;
                        std::this_thread::sleep_for(20ms);
                    }
                }
            });
        }
    }
    ~PlacementStorm() { stop(); }

    void stop() {
        stopping_ = true;
        for (auto& thread : threads_) {
            if (thread.joinable()) thread.join();
        }
    }
    std::set<std::string> acknowledged() const {
        std::lock_guard lock{mutex_};
        return acknowledged_;
    }
    std::size_t count() const {
        std::lock_guard lock{mutex_};
        return acknowledged_.size();
    }

private:
    std::atomic<bool> stopping_{false};
    mutable std::mutex mutex_;
    std::set<std::string> acknowledged_;
    int refused_ = 0;
    std::vector<std::thread> threads_;
};

// HAProxy with the repository's configuration (docs/haproxy/macvmorx.cfg) in front of two
// daemons, on a port of its own; ready once it reaches the leader.
class Haproxy {
public:
    Haproxy(const HaDaemon& first, const HaDaemon& second) : port_{free_loopback_port()} {
        process_ = std::make_unique<DaemonProcess>(
            "/usr/sbin/haproxy",
            std::vector<std::string>{"-db", "-f", std::string{MACVMORX_SOURCE_DIR} + "/docs/haproxy/macvmorx.cfg"},
            std::vector<std::string>{"MACVMORX_LISTEN=127.0.0.1:" + std::to_string(port_),
                                     "MACVMORX_DAEMON_1=127.0.0.1:" + std::to_string(first.port()),
                                     "MACVMORX_DAEMON_2=127.0.0.1:" + std::to_string(second.port())});
        const bool up = eventually([&] {
            const auto answer = ask(port_, Method::get, "/readyz", {}, 1s);
            return answer && answer->status == 200;
        }, 10s);
        if (!up) throw std::runtime_error("HAProxy does not reach the leader: " + process_->output());
    }
    std::uint16_t port() const { return port_; }
    std::string output() const { return process_->output(); }

private:
    std::uint16_t port_;
    std::unique_ptr<DaemonProcess> process_;
};

class HighAvailabilityTest : public ::testing::Test {
protected:
    void SetUp() override { database = macvmorx::testing::shared_postgres().create_database(); }

    // Two daemons, the first leading.
    void start_two() {
        first = std::make_unique<HaDaemon>(database);
        ASSERT_TRUE(first->wait_for_role("leader", 10s)) << first->process().output();
        second = std::make_unique<HaDaemon>(database);
        ASSERT_TRUE(second->wait_to_follow(*first, 10s)) << second->process().output();
    }

    std::string database;
    std::unique_ptr<HaDaemon> first;
    std::unique_ptr<HaDaemon> second;
};

} // namespace

TEST_F(HighAvailabilityTest, OneLeadsAndTheOtherSendsClientsToIt) {
    start_two();
    const auto leader = ask(first->port(), Method::get, "/readyz");
    ASSERT_TRUE(leader);
    EXPECT_EQ(leader->status, 200);
    EXPECT_EQ(json::parse(leader->body)["leader"], first->url());

    const auto follower = ask(second->port(), Method::get, "/readyz");
    ASSERT_TRUE(follower);
    EXPECT_EQ(follower->status, 503) << "a load balancer must keep followers out";
    const auto body = json::parse(follower->body);
    EXPECT_EQ(body["role"], "follower");
    EXPECT_EQ(body["leader"], first->url());

    const auto placement = ask(second->port(), Method::post, "/api/schedule-vm", json{{"imageName", ha_image}}.dump());
    ASSERT_TRUE(placement);
    EXPECT_EQ(placement->status, 307);
    EXPECT_EQ(placement->header("Location").value_or(""), first->url() + "/api/schedule-vm");

    for (auto* daemon : {first.get(), second.get()}) {
        const auto health = ask(daemon->port(), Method::get, "/healthz");
        ASSERT_TRUE(health);
        EXPECT_EQ(health->status, 200) << "alive, whatever its role";
    }
    const auto leader_metrics = ask(first->port(), Method::get, "/metrics");
    const auto follower_metrics = ask(second->port(), Method::get, "/metrics");
    ASSERT_TRUE(leader_metrics && follower_metrics);
    EXPECT_NE(leader_metrics->body.find("\nmacvmorx_leader 1"), std::string::npos);
    EXPECT_NE(follower_metrics->body.find("\nmacvmorx_leader 0"), std::string::npos);
    EXPECT_NE(leader_metrics->body.find("macvmorx_database_commit_seconds"), std::string::npos);
}

TEST_F(HighAvailabilityTest, AKilledLeaderLosesNoAcknowledgedPlacementAndTheFollowerLeadsWithinFiveSeconds) {
    start_two();
    constexpr int nodes = 60;
    report(first->port(), nodes);
    std::atomic<std::uint16_t> target{first->port()};
    PlacementStorm storm{[&] { return target.load(); }, 4};
    ASSERT_TRUE(eventually([&] { return storm.count() >= 20; }, 20s)) << "no placements before the kill";

    first->process().signal(SIGKILL);
    const auto killed_at = std::chrono::steady_clock::now();
    target = second->port();
    ASSERT_TRUE(second->wait_for_role("leader", 10s)) << second->process().output();
    const auto took = std::chrono::steady_clock::now() - killed_at;
    EXPECT_LT(took, 5s) << "the lease (2 s) expired and the follower took over in "
                        << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";

    // The new leader knows no node until it reports: the Macs keep sending heartbeats, as agents
    // do, and placements go on.
    const auto before = storm.count();
    ASSERT_TRUE(eventually([&] {
        report(second->port(), nodes);
        return storm.count() >= before + 10;
    }, 30s)) << "no placements after the failover: " << second->process().output();
    storm.stop();
    const auto acknowledged = storm.acknowledged();

    // The Macs report to the new leader, which sends again what they have not acknowledged (a
    // command is sent once its record is committed: heartbeats until every one has come).
    std::set<std::string> to_create;
    eventually([&] {
        const auto sent = report(second->port(), nodes);
        to_create.insert(sent.begin(), sent.end());
        return std::includes(to_create.begin(), to_create.end(), acknowledged.begin(), acknowledged.end());
    }, 10s);
    const auto vms = vms_of(second->port());
    for (const auto& vm_id : acknowledged) {
        ASSERT_TRUE(vms.contains(vm_id)) << "acknowledged placement " << vm_id << " was lost";
        EXPECT_TRUE(to_create.contains(vm_id)) << "no createVm sent again for " << vm_id;
    }
    expect_no_slot_booked_twice(vms);
}

TEST_F(HighAvailabilityTest, APausedLeaderThatWakesWritesNothingAndFollows) {
    start_two();
    constexpr int nodes = 10;
    report(first->port(), nodes);
    ASSERT_EQ(ask(first->port(), Method::post, "/api/schedule-vm", json{{"imageName", ha_image}, {"vmId", "before"}}.dump())
                  ->status,
              200);

    first->process().signal(SIGSTOP);
    // A client's placement reaches the paused leader and waits in its socket.
    std::optional<ClientResponse> late;
    std::thread client{[&] {
        late = ask(first->port(), Method::post, "/api/schedule-vm", json{{"imageName", ha_image}, {"vmId", "late"}}.dump(),
                   30s);
    }};
    ASSERT_TRUE(second->wait_for_role("leader", 10s)) << second->process().output();
    ASSERT_EQ(report(second->port(), nodes).count("before"), 1u) << "the new leader sends the createVm again";

    first->process().signal(SIGCONT);
    client.join();
    if (late) {
        EXPECT_NE(late->status, 200) << "the woken leader acknowledged a placement: " << late->body;
    }
    // It stepped down and serves again as a follower of the new leader.
    ASSERT_TRUE(first->wait_to_follow(*second, 10s)) << first->process().output();
    EXPECT_NE(first->process().output().find("stepping down"), std::string::npos);

    const auto vms = vms_of(second->port());
    EXPECT_TRUE(vms.contains("before"));
    EXPECT_FALSE(vms.contains("late")) << "the woken leader's placement reached the database";
    // Its heartbeats are not answered with commands either: they go to the leader.
    const auto heartbeat = ask(first->port(), Method::post, "/api/heartbeat", heartbeat_of(0));
    ASSERT_TRUE(heartbeat);
    EXPECT_EQ(heartbeat->status, 307);
}

TEST_F(HighAvailabilityTest, AStoppedLeaderHandsOverAtOnce) {
    // A lease of 30 s: a follower that takes over within 15 s was handed the lease, not waiting
    // for it to expire.
    first = std::make_unique<HaDaemon>(database, "30s");
    ASSERT_TRUE(first->wait_for_role("leader", 10s)) << first->process().output();
    second = std::make_unique<HaDaemon>(database, "30s");
    ASSERT_TRUE(second->wait_to_follow(*first, 10s));
    report(first->port(), 2);
    ASSERT_EQ(ask(first->port(), Method::post, "/api/schedule-vm", json{{"imageName", ha_image}, {"vmId", "kept"}}.dump())
                  ->status,
              200);
    first->process().signal(SIGTERM);
    EXPECT_EQ(first->process().wait_for_exit(10s), 0);
    ASSERT_TRUE(second->wait_for_role("leader", 15s)) << second->process().output();
    EXPECT_TRUE(vms_of(second->port()).contains("kept"));
}

TEST_F(HighAvailabilityTest, ThroughHaproxyAClientThatRetriesOn503KeepsGettingPlacements) {
    start_two();
    Haproxy haproxy{*first, *second};
    const auto listen = haproxy.port();

    constexpr int nodes = 60;
    report(listen, nodes);
    PlacementStorm storm{[&] { return listen; }, 2};
    ASSERT_TRUE(eventually([&] { return storm.count() >= 10; }, 20s)) << haproxy.output();
    first->process().signal(SIGKILL);
    const auto before = storm.count();
    // The Macs report through HAProxy, as agents do; the new leader learns of them so.
    ASSERT_TRUE(second->wait_for_role("leader", 10s)) << second->process().output();
    ASSERT_TRUE(eventually([&] { return !report(listen, nodes).empty(); }, 10s))
        << "HAProxy does not reach the new leader: " << haproxy.output();
    ASSERT_TRUE(eventually([&] { return storm.count() >= before + 10; }, 20s))
        << "no placement through HAProxy after the failover: " << haproxy.output();
    storm.stop();
    const auto vms = vms_of(second->port());
    for (const auto& vm_id : storm.acknowledged()) EXPECT_TRUE(vms.contains(vm_id)) << vm_id << " was lost";
    expect_no_slot_booked_twice(vms);
}

TEST_F(HighAvailabilityTest, PostgresRestartedUnderTheLeaderLosesNothingAcknowledgedAndAcknowledgesNothingMeanwhile) {
    // A cluster of its own: this test stops it.
    macvmorx::testing::PostgresCluster postgres;
    const auto url = postgres.create_database();
    first = std::make_unique<HaDaemon>(url);
    ASSERT_TRUE(first->wait_for_role("leader", 10s)) << first->process().output();
    constexpr int nodes = 30;
    report(first->port(), nodes);
    std::set<std::string> acknowledged;
    const auto place = [&](const std::string& vm_id) {
        const auto answer = ask(first->port(), Method::post, "/api/schedule-vm",
                                json{{"imageName", ha_image}, {"vmId", vm_id}}.dump(), 5s);
        if (answer && answer->status == 200) acknowledged.insert(vm_id);
        return answer;
    };
    for (int i = 0; i < 5; ++i) ASSERT_EQ(place("up-" + std::to_string(i))->status, 200);

    postgres.stop();
    for (int i = 0; i < 5; ++i) {
        const auto answer = place("down-" + std::to_string(i));
        ASSERT_TRUE(answer) << "reads and refusals keep being answered";
        EXPECT_NE(answer->status, 200) << "a placement was acknowledged while PostgreSQL was down";
        if (answer->status == 503) {
            EXPECT_TRUE(answer->header("Retry-After")) << answer->body << first->process().output();
        }
    }
    const auto listing = ask(first->port(), Method::get, "/api/nodes");
    ASSERT_TRUE(listing);
    EXPECT_EQ(listing->status, 200) << "reads are served from memory";
    postgres.start();

    ASSERT_TRUE(first->wait_for_role("leader", 15s)) << first->process().output();
    ASSERT_TRUE(eventually([&] {
        const auto answer = place("again-" + std::to_string(acknowledged.size()));
        return answer && answer->status == 200;
    }, 15s)) << first->process().output();

    // What the database holds is what a new leader would load.
    first->process().signal(SIGKILL);
    first->process().wait_for_exit(5s);
    second = std::make_unique<HaDaemon>(url);
    ASSERT_TRUE(second->wait_for_role("leader", 10s)) << second->process().output();
    const auto vms = vms_of(second->port());
    for (const auto& vm_id : acknowledged) EXPECT_TRUE(vms.contains(vm_id)) << vm_id << " was lost";
}

TEST(HighAvailability, AnUnreachableDatabaseAtStartExitsWith69NamingItWithoutItsPassword) {
    DaemonProcess daemon{daemon_binary,
                         {"server", "--bind", "127.0.0.1", "--port", "0", "--database-url",
                          "postgresql://fleet:hunter2@127.0.0.1:1/records", "--database-start-wait", "1s"}};
    EXPECT_EQ(daemon.wait_for_exit(20s), 69);
    const auto output = daemon.output();
    EXPECT_NE(output.find("postgresql://fleet@127.0.0.1:1/records"), std::string::npos) << output;
    EXPECT_EQ(output.find("hunter2"), std::string::npos) << output;
}

TEST_F(HighAvailabilityTest, ASimulatedFleetThroughHaproxyKeepsRunningJobsAcrossAFailoverWithNoMacOverbooked) {
    start_two();
    Haproxy haproxy{*first, *second};
    // Simulated Macs (the real agent code, tart simulated) and CI jobs, all through HAProxy.
    macvmorx::sim::SimulationOptions options;
    options.server = {false, "127.0.0.1", haproxy.port(), ""};
    options.nodes = 12;
    options.heartbeat_interval = 200ms;
    options.jobs_per_minute = 900;
    options.profile.bandwidth_mbps = 1'000'000;
    options.profile.boot_time = 100ms;
    options.profile.job_runtime = 1s;
    options.seed = 7;
    macvmorx::sim::FleetSimulator simulator{options};
    std::thread runner{[&simulator] { simulator.run(); }};

    // Watched all along: no Mac holds more than its two slots, no VM is on two Macs.
    std::atomic<bool> watching{true};
    std::mutex violations_mutex;
    std::vector<std::string> violations;
    std::thread watcher{[&] {
        while (watching) {
            for (auto* daemon : {first.get(), second.get()}) {
                if (daemon->role() != "leader") continue;
                const auto vms = vms_of(daemon->port());
                std::map<std::string, int> per_node;
                for (const auto& [id, vm] : vms) {
                    const auto state = vm["state"].get<std::string>();
                    if (state == "assigned" || state == "provisioning" || state == "running") {
                        if (++per_node[vm["nodeId"].get<std::string>()] > 2) {
                            std::lock_guard lock{violations_mutex};
                            violations.push_back(vm["nodeId"].get<std::string>() + " holds more than 2 VMs");
                        }
                    }
                }
                const auto nodes = ask(daemon->port(), Method::get, "/api/nodes");
                if (!nodes || nodes->status != 200) continue;
                std::map<std::string, std::string> host_of;
                for (const auto& node : json::parse(nodes->body)) {
                    for (const auto& vm : node.value("vms", json::array())) {
                        const auto [it, fresh] = host_of.emplace(vm["vmId"].get<std::string>(), node["nodeId"]);
                        if (!fresh && it->second != node["nodeId"]) {
                            std::lock_guard lock{violations_mutex};
                            violations.push_back(it->first + " runs on two Macs");
                        }
                    }
                }
            }
            std::this_thread::sleep_for(100ms);
        }
    }};
    const auto finished_on = [](HaDaemon& daemon) {
        const auto vms = vms_of(daemon.port());
        return std::count_if(vms.begin(), vms.end(), [](const auto& entry) { return entry.second["state"] == "deleted"; });
    };
    EXPECT_TRUE(eventually([&] { return finished_on(*first) >= 5; }, 30s)) << "no job ran before the failover";

    first->process().signal(SIGKILL);
    ASSERT_TRUE(second->wait_for_role("leader", 10s)) << second->process().output();
    const auto finished_before = finished_on(*second);
    EXPECT_TRUE(eventually([&] { return finished_on(*second) >= finished_before + 5; }, 40s))
        << "jobs stopped running after the failover: " << haproxy.output();

    watching = false;
    watcher.join();
    simulator.stop();
    runner.join();
    EXPECT_TRUE(violations.empty()) << violations.front();
    EXPECT_GT(simulator.stats().jobs_placed + simulator.stats().jobs_queued, 10u);
}
