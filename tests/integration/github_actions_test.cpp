// GitHub Actions end to end: signed webhook deliveries into the real daemon, a fake GitHub on
// loopback for tokens and just-in-time runners, and a fake agent speaking heartbeats.

#include "fake_github.hpp"
#include "log_capture.hpp"
#include "postgres_cluster.hpp"
#include "test_daemon.hpp"
#include "test_keys.hpp"

#include "macvmorx/github/github_client.hpp"
#include "macvmorx/github/webhook_signature.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

using macvmorx::testing::eventually;
using macvmorx::testing::FakeGithub;
using macvmorx::testing::TestDaemon;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string webhook_secret = "It's a Secret to Everybody";

macvmorx::config::ServerConfig github_config(const FakeGithub& github, const std::string& app_key_pem) {
    return macvmorx::testing::github_test_config(github, app_key_pem, webhook_secret, "ghcr.io/acme/sonoma-runner:latest");
}

// A workflow_job delivery as GitHub documents it (the fields macvmorx reads and their neighbours).
std::string workflow_job(const std::string& action, std::int64_t job_id, const std::string& runner_name = {},
                         const std::string& conclusion = {}) {
    json job{{"id", job_id},
             {"run_id", 5000 + job_id},
             {"workflow_name", "CI"},
             {"head_branch", "main"},
             {"run_attempt", 1},
             {"head_sha", "f83a356604ae3c5d03e1b46ef4d1ca77d64a90b0"},
             {"html_url", "https://github.com/acme/app/actions/runs/" + std::to_string(5000 + job_id) + "/job/" +
                              std::to_string(job_id)},
             {"status", action == "completed" ? "completed" : action},
             {"conclusion", conclusion.empty() ? json(nullptr) : json(conclusion)},
             {"name", "build"},
             {"steps", json::array()},
             {"labels", {"self-hosted", "macOS"}},
             {"runner_id", runner_name.empty() ? json(nullptr) : json(1)},
             {"runner_name", runner_name.empty() ? json(nullptr) : json(runner_name)},
             {"runner_group_id", runner_name.empty() ? json(nullptr) : json(3)}};
    return json{{"action", action},
                {"workflow_job", job},
                {"repository", {{"id", 1296269}, {"name", "app"}, {"full_name", "acme/app"}, {"owner", {{"login", "acme"}}}}},
                {"organization", {{"login", "acme"}}},
                {"sender", {{"login", "octocat"}}},
                {"installation", {{"id", 77}}}}
        .dump();
}

macvmorx::http::ClientResponse deliver(macvmorx::http::HttpClient& client, const std::string& event,
                                       const std::string& body, const std::string& delivery,
                                       std::optional<std::string> signature = std::nullopt) {
    std::vector<macvmorx::http::Header> headers{{"Content-Type", "application/json"},
                                                {"X-GitHub-Event", event},
                                                {"X-GitHub-Delivery", delivery}};
    const std::string sig = signature.value_or(macvmorx::github::webhook_signature(webhook_secret, body));
    if (!sig.empty()) headers.push_back({"X-Hub-Signature-256", sig});
    return client.request(macvmorx::http::Method::post, "/webhooks/github", body, headers);
}

class GithubActions : public ::testing::Test {
protected:
    const macvmorx::testing::RsaKeyPair& key = macvmorx::testing::shared_rsa_key();
    FakeGithub github;
    TestDaemon daemon{github_config(github, key.private_pem)};
    macvmorx::http::HttpClient client = daemon.client();

    json get(const std::string& target) { return json::parse(client.get(target).body); }
    json heartbeat(const std::vector<std::string>& running = {}) {
        json vms = json::array();
        for (const auto& vm : running) vms.push_back({{"vmId", vm}, {"imageName", "ghcr.io/acme/sonoma-runner:latest"}});
        const json body{{"nodeId", "mac-1"}, {"vms", vms}, {"cachedImages", {"ghcr.io/acme/sonoma-runner:latest"}}};
        return json::parse(client.post_json("/api/heartbeat", body.dump()).body);
    }
    std::string first_vm_id() {
        std::string vm_id;
        EXPECT_TRUE(eventually([&] {
            const auto vms = get("/api/vms");
            if (vms.empty()) return false;
            vm_id = vms[0]["vmId"];
            return true;
        })) << "the worker asked GitHub for a runner and placed its VM";
        return vm_id;
    }
};

} // namespace

TEST_F(GithubActions, AQueuedJobRunsOnAFreshVmWithAJustInTimeRunnerAndTheVmIsDeletedAfterwards) {
    macvmorx::testing::LogCapture logs;
    heartbeat();
    auto answer = deliver(client, "workflow_job", workflow_job("queued", 101), "d-1");
    ASSERT_EQ(answer.status, 200) << answer.body;
    EXPECT_EQ(json::parse(answer.body)["message"], "job recorded");
    EXPECT_EQ(get("/api/jobs/101")["state"], "queued");

    const std::string vm_id = first_vm_id();
    const std::string runner = "macvmorx-" + vm_id;
    // GitHub was asked, as the App's installation, for a runner of the pool.
    const auto tokens = github.token_authorizations();
    ASSERT_EQ(tokens.size(), 1u);
    ASSERT_TRUE(tokens[0].starts_with("Bearer "));
    EXPECT_TRUE(macvmorx::testing::rs256_verifies(tokens[0].substr(7), key.public_pem)) << "a JWT signed with the App key";
    const auto jit = github.jit_requests();
    ASSERT_EQ(jit.size(), 1u);
    EXPECT_EQ(jit[0].path, "/orgs/acme/actions/runners/generate-jitconfig");
    EXPECT_EQ(jit[0].authorization, "Bearer ghs_installation_token");
    EXPECT_EQ(jit[0].body["name"], runner);
    EXPECT_EQ(jit[0].body["runner_group_id"], 3);
    EXPECT_EQ(jit[0].body["labels"], json({"self-hosted", "macOS", "sonoma"}));

    // The host learns of the VM with the runner's configuration; nobody else sees it.
    const auto commands = heartbeat()["commands"];
    ASSERT_EQ(commands.size(), 1u);
    EXPECT_EQ(commands[0]["type"], "createVm");
    EXPECT_EQ(commands[0]["vmId"], vm_id);
    EXPECT_EQ(commands[0]["runnerConfig"], "JIT-SECRET-" + runner);
    EXPECT_EQ(client.get("/api/vms/" + vm_id).body.find("JIT-SECRET"), std::string::npos);
    EXPECT_EQ(client.get("/api/vms").body.find("JIT-SECRET"), std::string::npos);

    // The agent downloads the image for 20 s, then boots the VM for 10 s.
    daemon.clock().advance(20s);
    ASSERT_EQ(client.post_json("/api/vms/" + vm_id + "/events", R"({"state":"provisioning","message":"booting","progress":1})").status, 200);
    daemon.clock().advance(10s);
    heartbeat({vm_id});
    EXPECT_EQ(get("/api/vms/" + vm_id)["state"], "running");
    daemon.clock().advance(5s);
    ASSERT_EQ(deliver(client, "workflow_job", workflow_job("in_progress", 101, runner), "d-2").status, 200);
    auto job = get("/api/jobs/101");
    EXPECT_EQ(job["state"], "in_progress");
    EXPECT_EQ(job["vmId"], vm_id);
    EXPECT_EQ(job["nodeId"], "mac-1");

    daemon.clock().advance(10min);
    ASSERT_EQ(deliver(client, "workflow_job", workflow_job("completed", 101, runner, "success"), "d-3").status, 200);
    EXPECT_EQ(get("/api/vms/" + vm_id)["state"], "deleting");
    const auto delete_commands = heartbeat({vm_id})["commands"];
    ASSERT_EQ(delete_commands.size(), 1u);
    EXPECT_EQ(delete_commands[0]["type"], "deleteVm");
    heartbeat();
    EXPECT_EQ(get("/api/vms/" + vm_id)["state"], "deleted");
    EXPECT_TRUE(eventually([&] { return github.removed() == std::vector<std::int64_t>{500}; }))
        << "the runner's registration is removed";

    job = get("/api/jobs/101");
    EXPECT_EQ(job["state"], "completed");
    EXPECT_EQ(job["conclusion"], "success");
    EXPECT_EQ(job["repository"], "acme/app");
    EXPECT_EQ(job["htmlUrl"], "https://github.com/acme/app/actions/runs/5101/job/101");
    EXPECT_EQ(job["waited"]["forHostSeconds"], 0);
    EXPECT_EQ(job["waited"]["forVmSeconds"], 30);
    EXPECT_EQ(job["waited"]["forImageSeconds"], 20);
    EXPECT_EQ(job["waited"]["forBootSeconds"], 10);
    EXPECT_FALSE(job["imageReadyAt"].is_null());
    EXPECT_EQ(job["waited"]["forRunnerSeconds"], 5);
    EXPECT_EQ(job["waited"]["totalSeconds"], 35);
    EXPECT_FALSE(job["completedAt"].is_null());

    const auto metrics = client.get("/metrics").body;
    EXPECT_NE(metrics.find("macvmorx_github_job_wait_seconds_count 1\n"), std::string::npos);
    EXPECT_NE(metrics.find("macvmorx_github_jobs_queued{pool=\"sonoma\"} 0\n"), std::string::npos);
    for (const auto& line : logs.lines()) EXPECT_EQ(line.find("JIT-SECRET"), std::string::npos) << line;
}

TEST_F(GithubActions, DeliveriesWithoutTheRightSignatureAreRefusedAndChangeNothing) {
    heartbeat();
    const std::string body = workflow_job("queued", 7);
    auto answer = deliver(client, "workflow_job", body, "d-1", std::string{});
    EXPECT_EQ(answer.status, 401);
    EXPECT_NE(json::parse(answer.body)["detail"].get<std::string>().find("no X-Hub-Signature-256"), std::string::npos);
    answer = deliver(client, "workflow_job", body, "d-2", macvmorx::github::webhook_signature("another secret", body));
    EXPECT_EQ(answer.status, 401);
    const std::string changed = workflow_job("queued", 8);
    answer = deliver(client, "workflow_job", changed, "d-3", macvmorx::github::webhook_signature(webhook_secret, body));
    EXPECT_EQ(answer.status, 401) << "a signature of another body";
    EXPECT_EQ(get("/api/jobs"), json::array());
    EXPECT_EQ(get("/api/vms"), json::array());

    // A good delivery after the refusals goes through.
    EXPECT_EQ(deliver(client, "workflow_job", body, "d-1").status, 200);
    EXPECT_EQ(get("/api/jobs").size(), 1u);
}

TEST_F(GithubActions, PingIsAnsweredAndARedeliveryChangesNothing) {
    auto answer = deliver(client, "ping", R"({"zen":"Keep it logically awesome.","hook_id":1})", "p-1");
    EXPECT_EQ(answer.status, 200);
    EXPECT_EQ(json::parse(answer.body)["message"], "pong");

    heartbeat();
    EXPECT_EQ(deliver(client, "workflow_job", workflow_job("queued", 9), "d-9").status, 200);
    answer = deliver(client, "workflow_job", workflow_job("queued", 9), "d-9");
    EXPECT_EQ(json::parse(answer.body)["message"], "duplicate delivery: nothing changed");
    first_vm_id();
    EXPECT_EQ(github.jit_requests().size(), 1u);
    EXPECT_EQ(get("/api/vms").size(), 1u);

    answer = deliver(client, "workflow_job", R"({"action":"queued"})", "d-10");
    EXPECT_EQ(answer.status, 400) << "signed, but not a workflow_job";
    answer = deliver(client, "push", R"({"ref":"refs/heads/main"})", "d-11");
    EXPECT_EQ(answer.status, 200);
    EXPECT_EQ(json::parse(answer.body)["event"], "push");
}

TEST_F(GithubActions, AJobCancelledBeforeAnyRunnerTookItDeletesTheVmMadeForIt) {
    heartbeat();
    deliver(client, "workflow_job", workflow_job("queued", 11), "d-1");
    const std::string vm_id = first_vm_id();
    deliver(client, "workflow_job", workflow_job("completed", 11, {}, "cancelled"), "d-2");
    EXPECT_EQ(get("/api/jobs/11")["conclusion"], "cancelled");
    EXPECT_EQ(get("/api/vms/" + vm_id)["state"], "deleted") << "its host never took the createVm command";
    EXPECT_TRUE(eventually([&] { return github.removed() == std::vector<std::int64_t>{500}; }));
}

TEST_F(GithubActions, GithubAnswering500IsRetriedAnd403PausesThePool) {
    heartbeat();
    github.fail_next({500});
    deliver(client, "workflow_job", workflow_job("queued", 21), "d-1");
    ASSERT_TRUE(eventually([&] { return github.failures_answered() == 1; }));
    EXPECT_EQ(get("/api/vms"), json::array());
    // The first retry's wait, once the worker has armed it: moved before, the retry would be
    // armed from the moved time and never come (a flaky test under load, issue 19).
    const auto retry = daemon.clock().now() + 1s;
    ASSERT_TRUE(eventually([&] { return daemon.clock().wake_up_expected_at(retry); }));
    daemon.clock().advance(1s);
    first_vm_id();
    EXPECT_EQ(github.jit_requests().size(), 1u);

    github.fail_next({403});
    deliver(client, "workflow_job", workflow_job("queued", 22), "d-2");
    ASSERT_TRUE(eventually([&] { return github.failures_answered() == 2; }));
    ASSERT_TRUE(eventually([&] {
        return client.get("/metrics").body.find("macvmorx_github_registration_failures_total 2\n") != std::string::npos;
    }));
    EXPECT_EQ(get("/api/vms").size(), 1u) << "no runner for job 22 while the pool is paused";
    EXPECT_EQ(github.jit_requests().size(), 1u);
}

TEST(GithubActionsOff, WithoutRunnerPoolsTheEndpointsSayHowToTurnThemOn) {
    TestDaemon daemon;
    auto client = daemon.client();
    const auto answer = client.request(macvmorx::http::Method::post, "/webhooks/github", "{}",
                                       {{"Content-Type", "application/json"}, {"X-GitHub-Event", "ping"}});
    EXPECT_EQ(answer.status, 404);
    EXPECT_EQ(json::parse(answer.body)["error"], "GitHub Actions is not configured");
    EXPECT_EQ(client.get("/api/jobs").status, 404);
}

TEST(GithubActionsReconciliation, AtStartARunnerRegistrationWithoutAVmIsRemoved) {
    FakeGithub github;
    github.list_runners(json::array({{{"id", 900}, {"name", "macvmorx-runner-left-over"}, {"busy", false}},
                                     {{"id", 901}, {"name", "macvmorx-runner-at-work"}, {"busy", true}},
                                     {{"id", 902}, {"name", "someone-elses"}, {"busy", false}}}));
    TestDaemon daemon{github_config(github, macvmorx::testing::shared_rsa_key().private_pem)};
    EXPECT_TRUE(eventually([&] { return github.removed() == std::vector<std::int64_t>{900}; }));
}

TEST(GithubClient, ListsTheQueuedJobsOfARepositoryAndOfAnOrganisationWithAToken) {
    FakeGithub github;
    github.offer_queued_run();
    macvmorx::ManualClock clock;
    macvmorx::github::Credentials credentials;
    credentials.token = "github_pat_test";
    macvmorx::github::GithubClient client{macvmorx::http::BaseUrl::parse(github.url()), credentials, clock};
    macvmorx::config::RunnerPool pool;
    pool.name = "app";
    pool.scope = *macvmorx::config::GithubScope::parse("repo:acme/app");
    const auto jobs = client.queued_jobs("acme/app");
    ASSERT_EQ(jobs.size(), 1u) << "only the queued one";
    EXPECT_EQ(jobs[0].action, "queued");
    EXPECT_EQ(jobs[0].job_id, 81);
    EXPECT_EQ(jobs[0].run_id, 7001);
    EXPECT_EQ(jobs[0].repository, "acme/app");
    EXPECT_EQ(jobs[0].labels, (std::vector<std::string>{"self-hosted", "macOS"}));

    pool.scope = *macvmorx::config::GithubScope::parse("org:acme");
    EXPECT_EQ(client.repositories(pool), (std::vector<std::string>{"acme/app", "acme/docs"}))
        << "the organisation's repositories, with a token";
    EXPECT_TRUE(client.queued_jobs("acme/docs").empty());
    EXPECT_TRUE(client.list_runners(pool).empty());
    EXPECT_TRUE(github.token_authorizations().empty()) << "a token needs no exchange";
}

TEST(GithubActionsDurability, JobsAndDeliveryIdsSurviveARestartAndAJobInProgressStillEndsItsVm) {
    const auto directory = std::filesystem::temp_directory_path() / ("macvmorx-github-durable-" + std::to_string(::getpid()));
    std::filesystem::remove_all(directory);
    FakeGithub github;
    auto config = github_config(github, macvmorx::testing::shared_rsa_key().private_pem);
    config.data_dir = directory.string();
    std::string vm_id;
    {
        TestDaemon daemon{config};
        auto client = daemon.client();
        client.post_json("/api/heartbeat", R"({"nodeId":"mac-1"})");
        ASSERT_EQ(deliver(client, "workflow_job", workflow_job("queued", 301), "d-301").status, 200);
        ASSERT_TRUE(eventually([&] { return json::parse(client.get("/api/vms").body).size() == 1; }));
        vm_id = json::parse(client.get("/api/vms").body)[0]["vmId"];
        client.post_json("/api/heartbeat", json{{"nodeId", "mac-1"}, {"vms", {{{"vmId", vm_id}, {"imageName", "x"}}}}}.dump());
        ASSERT_EQ(deliver(client, "workflow_job", workflow_job("in_progress", 301, "macvmorx-" + vm_id), "d-302").status, 200);
        ASSERT_EQ(json::parse(client.get("/api/jobs/301").body)["vmId"], vm_id);
    }
    TestDaemon daemon{config};
    auto client = daemon.client();
    auto job = json::parse(client.get("/api/jobs/301").body);
    EXPECT_EQ(job["state"], "in_progress");
    EXPECT_EQ(job["vmId"], vm_id);
    auto answer = deliver(client, "workflow_job", workflow_job("in_progress", 301, "macvmorx-" + vm_id), "d-302");
    EXPECT_EQ(json::parse(answer.body)["message"], "duplicate delivery: nothing changed");

    client.post_json("/api/heartbeat", json{{"nodeId", "mac-1"}, {"vms", {{{"vmId", vm_id}, {"imageName", "x"}}}}}.dump());
    ASSERT_EQ(deliver(client, "workflow_job", workflow_job("completed", 301, "macvmorx-" + vm_id, "success"), "d-303").status, 200);
    EXPECT_EQ(json::parse(client.get("/api/vms/" + vm_id).body)["state"], "deleting");
    std::filesystem::remove_all(directory);
}

TEST(GithubActionsDurability, JobsAndDeliveryIdsCarryOverAFailoverToTheNextLeaderOnPostgres) {
    // Two daemons on one real PostgreSQL (docs/high-availability.md): the first leads and takes
    // GitHub's deliveries; it stops; the second leads and neither handles a delivery twice nor
    // loses the runner's job.
    FakeGithub github;
    const auto database = macvmorx::testing::shared_postgres().create_database();
    auto config_of = [&](const std::string& name) {
        auto config = github_config(github, macvmorx::testing::shared_rsa_key().private_pem);
        config.data_dir.clear();
        config.database_url = database;
        config.advertise_url = "http://" + name + ".lab.example:9000";
        return config;
    };
    const auto leads = [](TestDaemon& daemon) {
        return eventually([&] { return daemon.client().get("/readyz").status == 200; }, 10s);
    };
    auto first = std::make_unique<TestDaemon>(config_of("first"));
    ASSERT_TRUE(leads(*first));
    TestDaemon second{config_of("second")};
    ASSERT_TRUE(eventually([&] {
        return json::parse(second.client().get("/readyz").body).value("leader", json()) == "http://first.lab.example:9000";
    }, 10s));

    std::string vm_id;
    {
        auto client = first->client();
        client.post_json("/api/heartbeat", R"({"nodeId":"mac-1"})");
        ASSERT_EQ(deliver(client, "workflow_job", workflow_job("queued", 401), "d-401").status, 200);
        ASSERT_TRUE(eventually([&] { return json::parse(client.get("/api/vms").body).size() == 1; }));
        vm_id = json::parse(client.get("/api/vms").body)[0]["vmId"];
        client.post_json("/api/heartbeat", json{{"nodeId", "mac-1"}, {"vms", {{{"vmId", vm_id}, {"imageName", "x"}}}}}.dump());
        ASSERT_EQ(deliver(client, "workflow_job", workflow_job("in_progress", 401, "macvmorx-" + vm_id), "d-402").status, 200);
    }
    const auto registrations = github.jit_requests().size();
    first.reset(); // stops cleanly: the lease is handed over at once
    ASSERT_TRUE(leads(second));

    auto client = second.client();
    auto job = json::parse(client.get("/api/jobs/401").body);
    EXPECT_EQ(job["state"], "in_progress");
    EXPECT_EQ(job["vmId"], vm_id);
    for (const auto& [event, delivery] : {std::pair{"queued", "d-401"}, std::pair{"in_progress", "d-402"}}) {
        const auto answer = deliver(client, "workflow_job",
                                    workflow_job(event, 401, event == std::string{"queued"} ? "" : "macvmorx-" + vm_id),
                                    delivery);
        EXPECT_EQ(json::parse(answer.body)["message"], "duplicate delivery: nothing changed") << delivery;
    }
    EXPECT_EQ(json::parse(client.get("/api/vms").body).size(), 1u) << "no second VM for the redelivered job";
    EXPECT_EQ(github.jit_requests().size(), registrations) << "no second runner registered for it";

    client.post_json("/api/heartbeat", json{{"nodeId", "mac-1"}, {"vms", {{{"vmId", vm_id}, {"imageName", "x"}}}}}.dump());
    ASSERT_EQ(deliver(client, "workflow_job", workflow_job("completed", 401, "macvmorx-" + vm_id, "success"), "d-403").status,
              200);
    EXPECT_EQ(json::parse(client.get("/api/vms/" + vm_id).body)["state"], "deleting") << "the runner's VM ends";
}

TEST_F(GithubActions, ABurstOf200QueuedJobsOnA20MacFleetNeverPutsMoreThan2VmsOnAMac) {
    for (int n = 0; n < 20; ++n) client.post_json("/api/heartbeat", json{{"nodeId", "mac-" + std::to_string(n)}}.dump());
    for (int j = 1; j <= 200; ++j) {
        ASSERT_EQ(deliver(client, "workflow_job", workflow_job("queued", 1000 + j), "burst-" + std::to_string(j)).status, 200);
    }
    ASSERT_TRUE(eventually([&] { return github.jit_requests().size() == 200; }, std::chrono::seconds{20}));
    ASSERT_TRUE(eventually([&] { return get("/api/vms").size() == 200; }));
    std::map<std::string, int> per_node;
    int pending = 0;
    for (const auto& vm : get("/api/vms")) {
        if (vm["state"] == "assigned") ++per_node[vm["nodeId"].get<std::string>()];
        if (vm["state"] == "pending") ++pending;
    }
    EXPECT_EQ(per_node.size(), 20u);
    for (const auto& [node, count] : per_node) EXPECT_EQ(count, 2) << node;
    EXPECT_EQ(pending, 160);
    EXPECT_EQ(get("/api/jobs?state=queued").size(), 200u);
}

TEST_F(GithubActions, WhenTheCompletedWebhookIsLostTheRunnersExitStillEndsItsVmAndRegistration) {
    heartbeat();
    deliver(client, "workflow_job", workflow_job("queued", 51), "d-1");
    const std::string vm_id = first_vm_id();
    heartbeat({vm_id});
    deliver(client, "workflow_job", workflow_job("in_progress", 51, "macvmorx-" + vm_id), "d-2");
    // The runner took its one job and exited; the agent removed the VM. No `completed` arrives.
    heartbeat();
    const auto vm = get("/api/vms/" + vm_id);
    EXPECT_TRUE(vm["state"] == "failed" || vm["state"] == "deleted") << vm.dump();
    EXPECT_TRUE(eventually([&] { return github.removed() == std::vector<std::int64_t>{500}; }));
    EXPECT_EQ(get("/api/jobs/51")["state"], "in_progress") << "GitHub has not said how it ended";
}

TEST(GithubActionsReconciliation, AQueuedJobNoWebhookAnnouncedGetsARunnerAtStart) {
    FakeGithub github;
    github.offer_queued_run();
    TestDaemon daemon{github_config(github, macvmorx::testing::shared_rsa_key().private_pem)};
    auto client = daemon.client();
    client.post_json("/api/heartbeat", R"({"nodeId":"mac-1"})");
    ASSERT_TRUE(eventually([&] { return client.get("/api/jobs/81").status == 200; }));
    EXPECT_EQ(json::parse(client.get("/api/jobs/81").body)["repository"], "acme/app");
    EXPECT_TRUE(eventually([&] { return github.jit_requests().size() == 1; })) << "a runner for it";
}

// ---------------------------------------------------------------------------------------------
// GitHub as it behaves (issue 19): the stand-in answers as GitHub's docs and API description say.

namespace {

std::string payload(const std::string& name) {
    std::ifstream in{std::string{MACVMORX_GITHUB_PAYLOADS} + "/" + name};
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

macvmorx::github::GithubClient token_client(const FakeGithub& github, const macvmorx::Clock& clock) {
    macvmorx::github::Credentials credentials;
    credentials.token = "github_pat_test";
    return macvmorx::github::GithubClient{macvmorx::http::BaseUrl::parse(github.url()), credentials, clock};
}

macvmorx::config::RunnerPool acme_pool() {
    macvmorx::config::RunnerPool pool;
    pool.name = "sonoma";
    pool.runs_on = {"self-hosted", "macOS"};
    pool.scope = *macvmorx::config::GithubScope::parse("org:acme");
    return pool;
}

} // namespace

TEST(GithubClient, EveryPageOfAListIsReadAndAskedAgainOnlyIfChanged) {
    FakeGithub github;
    json runners = json::array();
    for (int i = 0; i < 250; ++i) {
        runners.push_back({{"id", 1000 + i}, {"name", "macvmorx-runner-" + std::to_string(i)}, {"busy", i % 2 == 0}});
    }
    github.list_runners(runners);
    macvmorx::ManualClock clock;
    auto client = token_client(github, clock);
    const auto listed = client.list_runners(acme_pool());
    ASSERT_EQ(listed.size(), 250u) << "three pages of 100, by their Link headers";
    EXPECT_EQ(listed.back().id, 1249);
    EXPECT_EQ(github.counted_requests(), 3);
    EXPECT_EQ(client.list_runners(acme_pool()).size(), 250u);
    EXPECT_EQ(github.not_modified(), 3) << "the same pages again: 304s, which cost nothing";
    EXPECT_EQ(github.counted_requests(), 3);
    EXPECT_EQ(client.rate_limit_remaining(), 4997);
}

TEST(GithubClient, JobsQueuedInsideAnInProgressRunAreFoundOnEveryPage) {
    FakeGithub github;
    // A run turns in_progress when its first job starts; a job waiting on `needs:` stays queued.
    github.add_run("acme/app", 7002, "in_progress");
    github.add_job(83, 7002, "queued", {"self-hosted", "macOS"});
    github.add_job(84, 7002, "in_progress", {"self-hosted", "macOS"}, {}, "macvmorx-runner-x");
    // 120 queued runs: two pages.
    for (int i = 0; i < 120; ++i) github.add_run("acme/app", 8000 + i, "queued");
    github.add_job(85, 8119, "queued", {"self-hosted", "macOS"});
    macvmorx::ManualClock clock;
    auto client = token_client(github, clock);
    std::set<std::int64_t> found;
    for (const auto& job : client.queued_jobs("acme/app")) found.insert(job.job_id);
    EXPECT_EQ(found, (std::set<std::int64_t>{83, 85}));
    const auto asked = github.runs_asked();
    EXPECT_NE(std::find(asked.begin(), asked.end(), "acme/app?status=in_progress"), asked.end());
}

TEST(GithubClient, AJobsStateIsWhatGithubSaysNow) {
    FakeGithub github;
    github.add_job(90, 7001, "completed", {"self-hosted", "macOS"}, "cancelled");
    macvmorx::ManualClock clock;
    auto client = token_client(github, clock);
    const auto cancelled = client.job_status("acme/app", 90);
    ASSERT_TRUE(cancelled);
    EXPECT_EQ(cancelled->action, "completed");
    EXPECT_EQ(cancelled->conclusion, "cancelled");
    EXPECT_FALSE(client.job_status("acme/app", 91)) << "404";
}

TEST(GithubClient, ASecondaryRateLimitWaitsAMinuteAtLeastAndStopsEveryCall) {
    FakeGithub github;
    github.limit_next(1);
    macvmorx::ManualClock clock;
    auto client = token_client(github, clock);
    try {
        client.register_runner(acme_pool(), "macvmorx-runner-1");
        FAIL() << "GitHub's secondary limit answered";
    } catch (const macvmorx::github::RegistrarError& error) {
        EXPECT_EQ(error.status(), 403);
        EXPECT_TRUE(error.rate_limited()) << error.what();
        EXPECT_TRUE(error.retryable());
        EXPECT_EQ(error.retry_after(), std::optional<macvmorx::Duration>{std::chrono::minutes{1}})
            << "no Retry-After, requests left: at least a minute (GitHub's docs)";
    }
    EXPECT_EQ(github.secondary_limit_answers(), 1);
}

TEST(GithubClient, ARunnerNameGithubHasAlreadyIsRefusedWith409) {
    FakeGithub github;
    github.register_listed(true);
    macvmorx::ManualClock clock;
    auto client = token_client(github, clock);
    client.register_runner(acme_pool(), "macvmorx-runner-1");
    try {
        client.register_runner(acme_pool(), "macvmorx-runner-1");
        FAIL() << "a second runner of the same name";
    } catch (const macvmorx::github::RegistrarError& error) {
        EXPECT_EQ(error.status(), 409);
        EXPECT_FALSE(error.retryable());
    }
    EXPECT_EQ(github.jit_requests().size(), 1u);
}

TEST(GithubActionsPayloads, GithubsExamplesOfAJobHeldForApprovalGetNoRunner) {
    // octokit/webhooks' own examples: lineville/elastic-machines-testing, installation 23154469.
    FakeGithub github;
    auto config = github_config(github, macvmorx::testing::shared_rsa_key().private_pem);
    config.actions->github.installation_id = 23154469;
    config.actions->pools[0].runs_on = {"self-hosted", "k8s"};
    config.actions->pools[0].scope = *macvmorx::config::GithubScope::parse("repo:lineville/elastic-machines-testing");
    TestDaemon daemon{config};
    auto client = daemon.client();
    client.post_json("/api/heartbeat", R"({"nodeId":"mac-1"})");
    const auto held = deliver(client, "workflow_job", payload("workflow_job.queued.with-deployment.json"), "p-1");
    ASSERT_EQ(held.status, 200) << held.body;
    EXPECT_EQ(json::parse(client.get("/api/jobs/12877621891").body)["state"], "waiting");
    ASSERT_EQ(deliver(client, "workflow_job", payload("workflow_job.waiting.json"), "p-2").status, 200);
    EXPECT_EQ(json::parse(client.get("/api/jobs?state=waiting").body).size(), 1u);
    std::this_thread::sleep_for(300ms); // the worker's turn, were it to ask for a runner
    EXPECT_TRUE(github.jit_requests().empty()) << "no runner for a job that may wait for days";
    EXPECT_EQ(json::parse(client.get("/api/vms").body), json::array());

    // The approval: GitHub's queued delivery of the same job, its status now queued.
    auto approved = json::parse(payload("workflow_job.queued.with-deployment.json"));
    approved["workflow_job"]["status"] = "queued";
    ASSERT_EQ(deliver(client, "workflow_job", approved.dump(), "p-3").status, 200);
    EXPECT_EQ(json::parse(client.get("/api/jobs/12877621891").body)["state"], "queued");
    EXPECT_TRUE(eventually([&] { return github.jit_requests().size() == 1u; })) << "now it gets its runner";

    // Another installation's queued job (octokit's queued example, Codertocat/Hello-World,
    // installation 3456996) is not this pool's, though its labels would be.
    auto other = json::parse(payload("workflow_job.queued.json"));
    other["workflow_job"]["labels"] = {"self-hosted", "k8s"};
    const auto answer = deliver(client, "workflow_job", other.dump(), "p-4");
    ASSERT_EQ(answer.status, 200) << answer.body;
    EXPECT_NE(json::parse(answer.body)["message"].get<std::string>().find("serve other repositories or installations"),
              std::string::npos)
        << answer.body;
    EXPECT_EQ(client.get("/api/jobs/" + std::to_string(other["workflow_job"]["id"].get<std::int64_t>())).status, 404);
}

TEST(GithubActionsReconciliation, AQueuedJobInsideAnInProgressRunGetsARunner) {
    FakeGithub github;
    github.add_run("acme/app", 7002, "in_progress");
    github.add_job(83, 7002, "queued", {"self-hosted", "macOS"});
    TestDaemon daemon{github_config(github, macvmorx::testing::shared_rsa_key().private_pem)};
    auto client = daemon.client();
    client.post_json("/api/heartbeat", R"({"nodeId":"mac-1"})");
    EXPECT_TRUE(eventually([&] { return client.get("/api/jobs/83").status == 200; }, 10s));
    EXPECT_TRUE(eventually([&] { return !json::parse(client.get("/api/vms").body).empty(); }, 10s));
}
