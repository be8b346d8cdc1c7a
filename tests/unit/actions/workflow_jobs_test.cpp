#include "macvmorx/actions/workflow_jobs.hpp"

#include "fleet_builders.hpp"
#include "macvmorx/base/id_source.hpp"
#include "macvmorx/github/workflow_job.hpp"
#include "macvmorx/metrics/github_metrics.hpp"
#include "macvmorx/metrics/scrape.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"

#include <gtest/gtest.h>

#include <map>

using namespace std::chrono_literals;
using macvmorx::ManualClock;
using macvmorx::SequentialIdSource;
using macvmorx::actions::DeliveryOutcome;
using macvmorx::actions::JobState;
using macvmorx::github::RegistrarError;
using macvmorx::github::RunnerRegistration;
using macvmorx::actions::WorkflowJobs;
using macvmorx::actions::WorkflowJobsOptions;
using macvmorx::config::RunnerPool;
using macvmorx::github::WorkflowJobEvent;
using macvmorx::lifecycle::VmFilter;
using macvmorx::protocol::VmState;
using macvmorx::orchestrator::Orchestrator;
using macvmorx::orchestrator::OrchestratorOptions;
using macvmorx::testing::heartbeat;

namespace {

// GitHub's side, in process: hands out configurations and can fail on demand.
class FakeRegistrar final : public macvmorx::github::RunnerRegistrar {
public:
    RunnerRegistration register_runner(const RunnerPool& pool, const std::string& name) override {
        registered.push_back(name);
        if (!failures.empty()) {
            const auto failure = failures.front();
            failures.erase(failures.begin());
            throw failure;
        }
        return {next_id++, "jit-config-of-" + name + "-in-" + pool.name};
    }
    void remove_runner(const RunnerPool&, std::int64_t runner_id) override { removed.push_back(runner_id); }
    std::vector<macvmorx::github::RegisteredRunner> list_runners(const RunnerPool&) override { return listed; }
    std::optional<macvmorx::github::RegisteredRunner> runner(const RunnerPool&, std::int64_t runner_id) override {
        asked_runners.push_back(runner_id);
        for (const auto& one : listed) {
            if (one.id == runner_id) return one;
        }
        return std::nullopt;
    }
    std::vector<WorkflowJobEvent> queued_jobs(const std::string& repository) override {
        asked_repositories.push_back(repository);
        std::vector<WorkflowJobEvent> of_it;
        for (const auto& event : queued) {
            if (event.repository == repository) of_it.push_back(event);
        }
        return of_it;
    }
    std::vector<std::string> repositories(const RunnerPool&) override { return organisation; }
    macvmorx::github::JobStatus job_status(const std::string&, std::int64_t job_id) override {
        asked_jobs.push_back(job_id);
        if (const auto it = statuses.find(job_id); it != statuses.end()) return it->second;
        return std::nullopt;
    }

    std::vector<std::string> registered;
    std::vector<std::int64_t> removed;
    std::vector<RegistrarError> failures;
    std::vector<macvmorx::github::RegisteredRunner> listed;
    std::vector<WorkflowJobEvent> queued;
    std::vector<std::string> organisation{"acme/app"};
    std::map<std::int64_t, WorkflowJobEvent> statuses; // what GitHub says of each job now
    std::vector<std::string> asked_repositories;
    std::vector<std::int64_t> asked_jobs;
    std::vector<std::int64_t> asked_runners;
    std::int64_t next_id = 100;
};

RunnerPool macos_pool(int warm = 0) {
    RunnerPool pool;
    pool.name = "sonoma";
    pool.runs_on = {"self-hosted", "macos", "sonoma"};
    pool.image = "ghcr.io/acme/sonoma-runner:latest";
    pool.scope = *macvmorx::config::GithubScope::parse("org:acme");
    pool.warm = warm;
    return pool;
}

WorkflowJobEvent job_event(std::string action, std::int64_t id, std::string runner = {},
                           std::vector<std::string> labels = {"self-hosted", "macos"}) {
    WorkflowJobEvent event;
    event.action = std::move(action);
    event.job_id = id;
    event.run_id = 7;
    event.repository = "acme/app";
    event.workflow_name = "CI";
    event.job_name = "build";
    event.labels = std::move(labels);
    event.html_url = "https://github.com/acme/app/actions/runs/7/job/" + std::to_string(id);
    event.runner_name = std::move(runner);
    if (event.action == "completed") event.conclusion = "success";
    return event;
}

// Hears how long each job waited for its runner, as metrics/ does.
class RecordingWaits final : public macvmorx::actions::JobWaitObserver {
public:
    void job_started(double seconds_waited) override { waits.push_back(seconds_waited); }
    std::vector<double> waits;
};

class WorkflowJobsTest : public ::testing::Test {
protected:
    explicit WorkflowJobsTest(int warm = 0) {
        WorkflowJobsOptions options;
        options.pools = {macos_pool(warm)};
        options.reconcile_interval = {}; // tests reconcile when they say so
        jobs = std::make_unique<WorkflowJobs>(options, orchestrator, registrar, clock, ids);
        orchestrator.add_lifecycle_observer(jobs.get());
    }

    std::size_t vms_in(VmState state) {
        VmFilter filter;
        filter.state = state;
        return orchestrator.vms(filter).size();
    }
    // What the host agent of `node` would do: report every VM placed on it as running.
    void host_runs_its_vms(const std::string& node) {
        auto report = heartbeat(node);
        VmFilter filter;
        filter.node_id = node;
        for (const auto& vm : orchestrator.vms(filter)) {
            if (vm.state != VmState::deleting && !macvmorx::protocol::is_final(vm.state)) {
                report.vms.push_back({vm.vm_id, vm.spec.image_name, 1, "", ""});
            }
        }
        report.vm_count = static_cast<int>(report.vms.size());
        orchestrator.record_heartbeat(report);
    }

    ManualClock clock;
    SequentialIdSource ids;
    Orchestrator orchestrator{OrchestratorOptions{30s, {2}, {}, {}}, clock, ids};
    FakeRegistrar registrar;
    std::unique_ptr<WorkflowJobs> jobs;
};

class WarmPoolTest : public WorkflowJobsTest {
protected:
    WarmPoolTest() : WorkflowJobsTest(2) {}
};

} // namespace

TEST_F(WorkflowJobsTest, AQueuedJobGetsARegisteredRunnerInAVmWhoseCommandCarriesItsConfiguration) {
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    const auto result = jobs->receive("delivery-1", job_event("queued", 1));
    ASSERT_EQ(result.outcome, DeliveryOutcome::applied);
    EXPECT_EQ(result.job->pool, "sonoma");
    EXPECT_EQ(result.job->state, JobState::queued);
    EXPECT_TRUE(registrar.registered.empty()) << "GitHub is called by the worker, not while the delivery is answered";

    jobs->run_due_tasks();
    ASSERT_EQ(registrar.registered.size(), 1u);
    const std::string runner = registrar.registered[0];
    EXPECT_TRUE(runner.starts_with("macvmorx-runner-")) << runner;
    const auto vms = orchestrator.vms({});
    ASSERT_EQ(vms.size(), 1u);
    EXPECT_EQ(runner, "macvmorx-" + vms[0].vm_id);
    EXPECT_EQ(vms[0].state, VmState::assigned);
    EXPECT_EQ(vms[0].node_id, "mac-1");
    EXPECT_EQ(vms[0].spec.image_name, "ghcr.io/acme/sonoma-runner:latest");
    EXPECT_NE(vms[0].spec.metadata_json.find("\"pool\":\"sonoma\""), std::string::npos);

    const auto commands = orchestrator.record_heartbeat(heartbeat("mac-1")).commands;
    ASSERT_EQ(commands.size(), 1u);
    EXPECT_EQ(commands[0].vm_id, vms[0].vm_id);
    EXPECT_EQ(commands[0].runner_config, "jit-config-of-" + runner + "-in-sonoma");
}

TEST_F(WorkflowJobsTest, TheWaitObserverHearsHowLongEachJobWaitedForItsRunnerOnce) {
    RecordingWaits waits;
    jobs->set_wait_observer(&waits);
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    jobs->receive("d-1", job_event("queued", 1));
    jobs->run_due_tasks();
    clock.advance(45s);
    jobs->receive("d-2", job_event("in_progress", 1, "macvmorx-runner-of-someone"));
    clock.advance(5s);
    jobs->receive("d-3", job_event("in_progress", 1, "macvmorx-runner-of-someone"));
    EXPECT_EQ(waits.waits, std::vector<double>{45.0}) << "a second in_progress is no second start";
}

TEST_F(WorkflowJobsTest, JobsOfNoPoolAreIgnoredAndCounted) {
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    const auto result = jobs->receive("d-1", job_event("queued", 1, {}, {"ubuntu-latest"}));
    EXPECT_EQ(result.outcome, DeliveryOutcome::no_pool);
    jobs->run_due_tasks();
    EXPECT_TRUE(registrar.registered.empty());
    EXPECT_FALSE(jobs->find(1));
    macvmorx::metrics::Scrape scrape;
    macvmorx::metrics::collect_github(scrape, *jobs);
    const auto text = scrape.text();
    EXPECT_NE(text.find("macvmorx_github_jobs_ignored_total 1\n"), std::string::npos) << text;
}

TEST_F(WorkflowJobsTest, ARedeliveryChangesNothing) {
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    EXPECT_EQ(jobs->receive("d-1", job_event("queued", 1)).outcome, DeliveryOutcome::applied);
    EXPECT_EQ(jobs->receive("d-1", job_event("queued", 1)).outcome, DeliveryOutcome::duplicate);
    jobs->run_due_tasks();
    EXPECT_EQ(registrar.registered.size(), 1u);
    EXPECT_EQ(orchestrator.vms({}).size(), 1u);
}

TEST_F(WorkflowJobsTest, TheRunnerThatTakesTheJobIsBoundAndItsVmDeletedWhenTheJobCompletes) {
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    jobs->receive("d-1", job_event("queued", 1));
    jobs->run_due_tasks();
    clock.advance(40s);
    host_runs_its_vms("mac-1");
    const std::string runner = registrar.registered.at(0);
    const std::string vm_id = runner.substr(std::string("macvmorx-").size());
    ASSERT_EQ(orchestrator.vm(vm_id)->state, VmState::running);

    clock.advance(5s);
    jobs->receive("d-2", job_event("in_progress", 1, runner));
    auto job = *jobs->find(1);
    EXPECT_EQ(job.state, JobState::in_progress);
    EXPECT_EQ(job.vm_id, vm_id);
    EXPECT_EQ(job.node_id, "mac-1");
    EXPECT_EQ(*job.vm_assigned_at - job.queued_at, 0s);
    EXPECT_EQ(*job.vm_running_at - job.queued_at, 40s);
    EXPECT_EQ(*job.started_at - job.queued_at, 45s);

    clock.advance(10min);
    jobs->receive("d-3", job_event("completed", 1, runner));
    job = *jobs->find(1);
    EXPECT_EQ(job.state, JobState::completed);
    EXPECT_EQ(job.conclusion, "success");
    EXPECT_EQ(orchestrator.vm(vm_id)->state, VmState::deleting);

    // The host deletes the VM: the runner ends and GitHub forgets its registration.
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    EXPECT_EQ(orchestrator.vm(vm_id)->state, VmState::deleted);
    jobs->run_due_tasks();
    EXPECT_EQ(registrar.removed, std::vector<std::int64_t>{100});
    EXPECT_EQ(registrar.registered.size(), 1u) << "no job waits: no new runner";
}

TEST_F(WorkflowJobsTest, AJobCancelledBeforeAnyRunnerTookItRetiresAnIdleRunner) {
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    jobs->receive("d-1", job_event("queued", 1));
    jobs->receive("d-2", job_event("queued", 2));
    jobs->run_due_tasks();
    ASSERT_EQ(vms_in(VmState::assigned), 2u);

    auto cancelled = job_event("completed", 2);
    cancelled.conclusion = "cancelled";
    jobs->receive("d-3", cancelled);
    EXPECT_EQ(jobs->find(2)->conclusion, "cancelled");
    EXPECT_EQ(vms_in(VmState::assigned) + vms_in(VmState::deleted) + vms_in(VmState::deleting), 2u);
    EXPECT_EQ(vms_in(VmState::assigned), 1u) << "one runner for the one job still queued";
    EXPECT_EQ(jobs->pools()[0].queued_jobs, 1u);
}

TEST_F(WorkflowJobsTest, PassingGithubFailuresAreRetriedWithBackoff) {
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    registrar.failures = {RegistrarError("GitHub answered 502", 502, true),
                          RegistrarError("GitHub answered 502", 502, true)};
    jobs->receive("d-1", job_event("queued", 1));
    auto next = jobs->run_due_tasks();
    ASSERT_TRUE(next);
    EXPECT_EQ(*next - clock.now(), 1s);
    clock.advance(1s);
    next = jobs->run_due_tasks();
    ASSERT_TRUE(next);
    EXPECT_EQ(*next - clock.now(), 2s) << "the wait doubles";
    clock.advance(2s);
    jobs->run_due_tasks();
    EXPECT_EQ(registrar.registered.size(), 3u);
    EXPECT_EQ(vms_in(VmState::assigned), 1u);
    EXPECT_EQ(registrar.registered[0], registrar.registered[2]) << "the same runner, asked for again";
}

TEST_F(WorkflowJobsTest, RateLimitsWaitAsLongAsGithubSays) {
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    registrar.failures = {RegistrarError("rate limited", 429, true, 90s, true)};
    jobs->receive("d-1", job_event("queued", 1));
    const auto next = jobs->run_due_tasks();
    ASSERT_TRUE(next);
    EXPECT_EQ(*next - clock.now(), 90s);
}

TEST_F(WorkflowJobsTest, ARateLimitStopsEveryCallToGithubUntilItPasses) {
    // GitHub's secondary limit: a 403 with its message and no Retry-After means a minute at least.
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    registrar.failures = {RegistrarError("GitHub answered 403 (You have exceeded a secondary rate limit)", 403, true, 60s, true)};
    jobs->receive("d-1", job_event("queued", 1));
    jobs->receive("d-2", job_event("queued", 2));
    jobs->run_due_tasks();
    EXPECT_EQ(registrar.registered.size(), 1u) << "the second runner waits too: no call while limited";
    clock.advance(59s);
    jobs->run_due_tasks();
    jobs->reconcile();
    EXPECT_EQ(registrar.registered.size(), 1u);
    EXPECT_TRUE(registrar.asked_repositories.empty()) << "reconciliation waits as well";
    clock.advance(1s);
    jobs->run_due_tasks();
    EXPECT_EQ(registrar.registered.size(), 3u) << "both runners once the minute passed";
    macvmorx::metrics::Scrape scrape;
    macvmorx::metrics::collect_github(scrape, *jobs);
    const auto text = scrape.text();
    EXPECT_NE(text.find("macvmorx_github_rate_limited_total 1\n"), std::string::npos) << text;
}

TEST_F(WorkflowJobsTest, ARefusalPausesThePoolInsteadOfAskingAgainAtOnce) {
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    registrar.failures = {RegistrarError("GitHub answered 403 (Resource not accessible by integration)", 403, false)};
    jobs->receive("d-1", job_event("queued", 1));
    jobs->run_due_tasks();
    jobs->sweep();
    jobs->run_due_tasks();
    EXPECT_EQ(registrar.registered.size(), 1u) << "paused";
    EXPECT_EQ(vms_in(VmState::assigned), 0u);
    clock.advance(1s);
    jobs->sweep();
    jobs->run_due_tasks();
    EXPECT_EQ(registrar.registered.size(), 2u) << "after the pause, a fresh runner";
    EXPECT_EQ(vms_in(VmState::assigned), 1u);
}

TEST_F(WorkflowJobsTest, ARunnerThatTakesNoJobWithinTheRegistrationDeadlineIsReplaced) {
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    jobs->receive("d-1", job_event("queued", 1));
    jobs->run_due_tasks();
    host_runs_its_vms("mac-1");
    const std::string first = orchestrator.vms({})[0].vm_id;
    clock.advance(9min);
    jobs->sweep();
    EXPECT_EQ(orchestrator.vm(first)->state, VmState::running);
    clock.advance(1min);
    jobs->sweep();
    EXPECT_EQ(orchestrator.vm(first)->state, VmState::running) << "GitHub is asked first whether it is busy";
    jobs->run_due_tasks();
    EXPECT_EQ(registrar.asked_runners, std::vector<std::int64_t>{100});
    EXPECT_EQ(orchestrator.vm(first)->state, VmState::deleting);
    jobs->run_due_tasks();
    EXPECT_EQ(registrar.registered.size(), 2u);
    EXPECT_EQ(vms_in(VmState::assigned), 1u) << "a fresh VM in its place";
}

TEST_F(WorkflowJobsTest, ARunnerGithubListsAsBusyIsNeverRetired) {
    // A JIT runner is not bound to one job: GitHub may hand it a job just as it seems idle.
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    jobs->receive("d-1", job_event("queued", 1));
    jobs->run_due_tasks();
    host_runs_its_vms("mac-1");
    const std::string first = orchestrator.vms({})[0].vm_id;
    registrar.listed = {{100, registrar.registered.at(0), true}};
    clock.advance(10min);
    jobs->sweep();
    jobs->run_due_tasks();
    EXPECT_EQ(orchestrator.vm(first)->state, VmState::running) << "busy on GitHub: kept";
    // The job completes before its in_progress delivery: still no harm done.
    registrar.listed = {{100, registrar.registered.at(0), false}};
    jobs->receive("d-2", job_event("completed", 1, registrar.registered.at(0)));
    EXPECT_EQ(orchestrator.vm(first)->state, VmState::deleting) << "its job done, as it should";
}

TEST_F(WorkflowJobsTest, AJobHeldForApprovalGetsNoRunnerUntilItIsQueued) {
    // octokit/webhooks' queued.with-deployment: action queued, workflow_job.status waiting.
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    auto held = job_event("queued", 5);
    held.status = "waiting";
    ASSERT_EQ(jobs->receive("d-1", held).outcome, DeliveryOutcome::applied);
    EXPECT_EQ(jobs->find(5)->state, JobState::waiting);
    auto waiting = job_event("waiting", 5);
    waiting.status = "waiting";
    EXPECT_EQ(jobs->receive("d-2", waiting).outcome, DeliveryOutcome::unchanged);
    jobs->run_due_tasks();
    EXPECT_TRUE(registrar.registered.empty()) << "no runner for a job that may wait for days";
    EXPECT_EQ(jobs->pools()[0].queued_jobs, 0u);

    auto approved = job_event("queued", 5);
    approved.status = "queued";
    ASSERT_EQ(jobs->receive("d-3", approved).outcome, DeliveryOutcome::applied);
    EXPECT_EQ(jobs->find(5)->state, JobState::queued);
    jobs->run_due_tasks();
    EXPECT_EQ(registrar.registered.size(), 1u);
}

TEST_F(WorkflowJobsTest, AJobOutsideEveryPoolsScopeIsReportedNotServed) {
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    auto other_account = job_event("queued", 6);
    other_account.repository = "globex/app";
    EXPECT_EQ(jobs->receive("d-1", other_account).outcome, DeliveryOutcome::out_of_scope);
    auto other_installation = job_event("queued", 7);
    other_installation.installation_id = 999;
    WorkflowJobsOptions options;
    options.pools = {macos_pool()};
    options.reconcile_interval = {};
    options.installation_id = 77;
    WorkflowJobs installed{options, orchestrator, registrar, clock, ids};
    EXPECT_EQ(installed.receive("d-2", other_installation).outcome, DeliveryOutcome::out_of_scope);
    other_installation.installation_id = 77;
    EXPECT_EQ(installed.receive("d-3", other_installation).outcome, DeliveryOutcome::applied);
    // GitHub's owner names are not case sensitive.
    auto shouted = job_event("queued", 8);
    shouted.repository = "ACME/App";
    EXPECT_EQ(jobs->receive("d-4", shouted).outcome, DeliveryOutcome::applied);
    jobs->run_due_tasks();
    EXPECT_EQ(registrar.registered.size(), 1u) << "job 8 only";
    macvmorx::metrics::Scrape scrape;
    macvmorx::metrics::collect_github(scrape, *jobs);
    const auto text = scrape.text();
    EXPECT_NE(text.find("macvmorx_github_jobs_out_of_scope_total 1\n"), std::string::npos) << text;
}

TEST_F(WorkflowJobsTest, ReconciliationClosesTheJobsGithubFinishedAndStartsTheOnesItStarted) {
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    jobs->receive("d-1", job_event("queued", 1));
    jobs->receive("d-2", job_event("queued", 2));
    jobs->run_due_tasks();
    host_runs_its_vms("mac-1");
    const std::string runner = registrar.registered.at(0);
    // While macvmorx was down, job 1 was cancelled; job 2 started on a runner and finished (a
    // JIT runner deletes itself after its job: no `completed` delivery came).
    auto cancelled = job_event("completed", 1);
    cancelled.conclusion = "cancelled";
    registrar.statuses[1] = cancelled;
    registrar.statuses[2] = job_event("in_progress", 2, runner);
    clock.advance(2min);
    jobs->reconcile();
    EXPECT_EQ(jobs->find(1)->state, JobState::completed);
    EXPECT_EQ(jobs->find(1)->conclusion, "cancelled");
    EXPECT_EQ(jobs->find(2)->state, JobState::in_progress);
    EXPECT_EQ(jobs->find(2)->runner_name, runner);
    registrar.statuses[2] = job_event("completed", 2, runner);
    clock.advance(2min);
    jobs->reconcile();
    EXPECT_EQ(jobs->find(2)->state, JobState::completed);
    EXPECT_EQ(orchestrator.vm(runner.substr(9))->state, VmState::deleting) << "its VM goes";
}

TEST_F(WorkflowJobsTest, ReconciliationAsksAFewRepositoriesAPassInTurn) {
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    WorkflowJobsOptions options;
    options.pools = {macos_pool()};
    options.reconcile_interval = {};
    options.repositories_per_reconcile = 2;
    WorkflowJobs budgeted{options, orchestrator, registrar, clock, ids};
    registrar.organisation = {"acme/a", "acme/b", "acme/c", "acme/d", "acme/e"};
    budgeted.reconcile();
    EXPECT_EQ(registrar.asked_repositories, (std::vector<std::string>{"acme/a", "acme/b"}));
    registrar.asked_repositories.clear();
    budgeted.reconcile();
    EXPECT_EQ(registrar.asked_repositories, (std::vector<std::string>{"acme/c", "acme/d"}));
    // A repository with a job of ours is asked every time, before the others.
    budgeted.receive("d-1", job_event("queued", 9));
    registrar.asked_repositories.clear();
    budgeted.reconcile();
    EXPECT_EQ(registrar.asked_repositories, (std::vector<std::string>{"acme/app", "acme/e"}));
}

TEST_F(WorkflowJobsTest, ARunnerVmThatFailsBeforeItsJobPausesThePool) {
    // A golden image whose runner GitHub refuses would otherwise loop: boot, register, exit.
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    jobs->receive("d-1", job_event("queued", 1));
    jobs->run_due_tasks();
    const std::string first = orchestrator.vms({})[0].vm_id;
    // The lifecycle places a failed VM again, up to its attempts; then it fails for good.
    for (int attempt = 0; attempt < 3; ++attempt) {
        ASSERT_EQ(orchestrator.record_vm_event(first, {VmState::failed, "GitHub no longer accepts this runner's version", {}}),
                  macvmorx::lifecycle::EventOutcome::applied);
    }
    ASSERT_EQ(orchestrator.vm(first)->state, VmState::failed);
    jobs->run_due_tasks();
    jobs->sweep();
    jobs->run_due_tasks();
    EXPECT_EQ(registrar.registered.size(), 1u) << "paused";
    clock.advance(1s);
    jobs->sweep();
    jobs->run_due_tasks();
    EXPECT_EQ(registrar.registered.size(), 2u) << "after the pause, a fresh runner";
}

TEST_F(WarmPoolTest, WarmRunnersAreKeptReadyWithoutJobsAndNotReplaced) {
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    orchestrator.record_heartbeat(heartbeat("mac-2"));
    jobs->run_due_tasks();
    EXPECT_EQ(registrar.registered.size(), 2u);
    host_runs_its_vms("mac-1");
    host_runs_its_vms("mac-2");
    clock.advance(1h);
    host_runs_its_vms("mac-1"); // still online, still running them
    host_runs_its_vms("mac-2");
    jobs->sweep();
    jobs->run_due_tasks();
    EXPECT_EQ(registrar.registered.size(), 2u);
    EXPECT_EQ(jobs->pools()[0].runners_idle, 2u);
}

TEST_F(WorkflowJobsTest, ABurstOfJobsNeverPutsMoreVmsOnANodeThanItHasSlots) {
    for (int n = 0; n < 20; ++n) orchestrator.record_heartbeat(heartbeat("mac-" + std::to_string(n)));
    for (int j = 1; j <= 200; ++j) jobs->receive("d-" + std::to_string(j), job_event("queued", j));
    jobs->run_due_tasks();
    EXPECT_EQ(registrar.registered.size(), 200u);
    std::map<std::string, int> per_node;
    for (const auto& vm : orchestrator.vms({})) {
        if (vm.state == VmState::assigned) ++per_node[vm.node_id];
    }
    EXPECT_EQ(per_node.size(), 20u);
    for (const auto& [node, count] : per_node) EXPECT_EQ(count, 2) << node;
    EXPECT_EQ(vms_in(VmState::pending), 160u) << "the rest wait in the queue";
    EXPECT_EQ(jobs->pools()[0].queued_jobs, 200u);
}

TEST(WorkflowJobEvent, ReadsGithubsPayloadAndNamesWhatIsMissing) {
    const auto event = macvmorx::github::parse_workflow_job(R"({
        "action": "in_progress",
        "workflow_job": {"id": 29679449, "run_id": 10835, "workflow_name": "CI", "name": "build",
                         "labels": ["self-hosted", "macos"], "html_url": "https://github.com/acme/app/actions/runs/10835/job/29679449",
                         "runner_name": "macvmorx-runner-1", "conclusion": null, "status": "in_progress"},
        "repository": {"full_name": "acme/app"},
        "organization": {"login": "acme"}})");
    EXPECT_EQ(event.action, "in_progress");
    EXPECT_EQ(event.job_id, 29679449);
    EXPECT_EQ(event.run_id, 10835);
    EXPECT_EQ(event.repository, "acme/app");
    EXPECT_EQ(event.labels, (std::vector<std::string>{"self-hosted", "macos"}));
    EXPECT_EQ(event.runner_name, "macvmorx-runner-1");
    EXPECT_EQ(event.conclusion, "");

    const auto error_of = [](const char* body) {
        try {
            macvmorx::github::parse_workflow_job(body);
        } catch (const std::invalid_argument& error) {
            return std::string(error.what());
        }
        return std::string();
    };
    EXPECT_EQ(error_of(R"({"action":"queued","repository":{"full_name":"a/b"}})"), "workflow_job is missing");
    EXPECT_EQ(error_of(R"({"action":"queued","workflow_job":{"id":"x","run_id":1},"repository":{"full_name":"a/b"}})"),
              "workflow_job.id must be a whole number");
    EXPECT_EQ(error_of(R"({"action":"queued","workflow_job":{"id":9223372036854775808,"run_id":1},"repository":{"full_name":"a/b"}})"),
              "workflow_job.id is too large")
        << "an id beyond int64 must not wrap to a negative one";
    EXPECT_EQ(error_of(R"({"action":"queued","workflow_job":{"id":1,"run_id":1,"labels":[1]},"repository":{"full_name":"a/b"}})"),
              "workflow_job.labels must be an array of strings");
    EXPECT_EQ(error_of("[1]"), "the body is not a JSON object");
}

TEST_F(WorkflowJobsTest, ReconciliationTakesUpAQueuedJobNoWebhookToldOf) {
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    registrar.queued = {job_event("queued", 31)};
    jobs->reconcile();
    ASSERT_TRUE(jobs->find(31));
    EXPECT_EQ(jobs->find(31)->state, JobState::queued);
    jobs->run_due_tasks();
    EXPECT_EQ(vms_in(VmState::assigned), 1u);
    jobs->reconcile();
    jobs->run_due_tasks();
    EXPECT_EQ(registrar.registered.size(), 1u) << "a job it knows is not taken up twice";
}

TEST_F(WorkflowJobsTest, ReconciliationRemovesRegistrationsNoVmStandsBehind) {
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    jobs->receive("d-1", job_event("queued", 1));
    jobs->run_due_tasks();
    const std::string ours = registrar.registered.at(0);
    registrar.listed = {{100, ours, false},                       // ours, in its VM
                        {7, "macvmorx-runner-gone", false},       // its VM is gone (a restart, a lost webhook)
                        {8, "macvmorx-runner-busy", true},        // runs a job: left alone
                        {9, "team-runner-1", false}};             // not macvmorx's
    jobs->reconcile();
    EXPECT_EQ(registrar.removed, std::vector<std::int64_t>{7});
    EXPECT_EQ(vms_in(VmState::assigned), 1u);
}

TEST_F(WorkflowJobsTest, TheWorkerReconcilesAtStartAndThenEveryInterval) {
    WorkflowJobsOptions options;
    options.pools = {macos_pool()};
    options.reconcile_interval = 1min;
    WorkflowJobs reconciling{options, orchestrator, registrar, clock, ids};
    registrar.queued = {job_event("queued", 41)};
    const auto next = reconciling.run_due_tasks();
    EXPECT_TRUE(reconciling.find(41)) << "at start";
    ASSERT_TRUE(next);
    EXPECT_EQ(*next - clock.now(), 1min);
    registrar.queued = {job_event("queued", 42)};
    reconciling.run_due_tasks();
    EXPECT_FALSE(reconciling.find(42)) << "not before the interval";
    clock.advance(1min);
    reconciling.run_due_tasks();
    EXPECT_TRUE(reconciling.find(42));
}

TEST_F(WorkflowJobsTest, ARunnerVmCarriesItsPoolsPriorityAndItsJobsRepositoryAsTenant) {
    auto pool = macos_pool();
    pool.priority = 5;
    jobs->update_pools({pool});
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    jobs->receive("d-1", job_event("queued", 1));
    jobs->run_due_tasks();
    const auto vms = orchestrator.vms({});
    ASSERT_EQ(vms.size(), 1u);
    EXPECT_EQ(vms[0].spec.priority, 5);
    EXPECT_EQ(vms[0].spec.tenant, "acme/app");

    pool.tenant_of = macvmorx::config::TenantOf::organisation;
    jobs->update_pools({pool});
    const auto job = jobs->find(1);
    ASSERT_TRUE(job);
    const auto spec = jobs->runner_spec(*job);
    ASSERT_TRUE(spec);
    EXPECT_EQ(spec->tenant, "acme");
    EXPECT_EQ(spec->priority, 5);
}

TEST_F(WorkflowJobsTest, ANewImageRollsOutToEnoughHostsBeforeThePoolSwitchesToIt) {
    for (const auto* node : {"mac-1", "mac-2", "mac-3"}) orchestrator.record_heartbeat(heartbeat(node));
    auto pool = macos_pool();
    const std::string old_image = pool.image;
    const std::string new_image = "ghcr.io/acme/sonoma-runner:2";
    pool.image = new_image;
    pool.switch_when_hosts = 2;
    EXPECT_TRUE(jobs->update_pools({pool}).empty());

    // Until two hosts hold it, the pool keeps its image; the new one is pulled ahead of demand.
    jobs->sweep();
    orchestrator.sweep();
    std::vector<std::string> pulling;
    for (const auto* node : {"mac-1", "mac-2", "mac-3"}) {
        for (const auto& command : orchestrator.record_heartbeat(heartbeat(node)).commands) {
            if (command.type == macvmorx::protocol::CommandType::pull_image && command.image_name == new_image) pulling.push_back(node);
        }
    }
    EXPECT_EQ(pulling.size(), 2u);
    jobs->receive("d-1", job_event("queued", 1));
    jobs->run_due_tasks();
    ASSERT_EQ(orchestrator.vms({}).size(), 1u);
    EXPECT_EQ(orchestrator.vms({})[0].spec.image_name, old_image) << "switched before the hosts held the new image";

    // The hosts hold it: the next sweep switches the pool.
    for (const auto& node : pulling) orchestrator.record_heartbeat(heartbeat(node, {new_image}));
    orchestrator.sweep();
    jobs->sweep();
    jobs->receive("d-2", job_event("queued", 2));
    jobs->run_due_tasks();
    const auto vms = orchestrator.vms({});
    ASSERT_EQ(vms.size(), 2u);
    EXPECT_EQ(vms[1].spec.image_name, new_image);
}

TEST_F(WorkflowJobsTest, ANewImageWithoutAHostCountSwitchesAtOnceAndNewPoolsNeedARestart) {
    auto pool = macos_pool();
    pool.image = "ghcr.io/acme/sonoma-runner:2";
    auto other = macos_pool();
    other.name = "sequoia";
    const auto need_restart = jobs->update_pools({pool, other});
    EXPECT_EQ(need_restart, std::vector<std::string>{"sequoia"});
    orchestrator.record_heartbeat(heartbeat("mac-1"));
    jobs->receive("d-1", job_event("queued", 1));
    jobs->run_due_tasks();
    ASSERT_EQ(orchestrator.vms({}).size(), 1u);
    EXPECT_EQ(orchestrator.vms({})[0].spec.image_name, "ghcr.io/acme/sonoma-runner:2");
}
