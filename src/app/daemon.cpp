#include "macvmorx/app/daemon.hpp"

#include "leader_election.hpp"
#include "open_files.hpp"
#include "signals.hpp"

#include "macvmorx/actions/workflow_jobs.hpp"
#include "macvmorx/api/api_context.hpp"
#include "macvmorx/api/leadership.hpp"
#include "macvmorx/api/peer_grants.hpp"
#include "macvmorx/api/routes.hpp"
#include "macvmorx/api/wait_budget.hpp"
#include "macvmorx/fleet/image_peers.hpp"
#include "macvmorx/app/logging.hpp"
#include "macvmorx/auth/token_guard.hpp"
#include "macvmorx/base/id_source.hpp"
#include "macvmorx/base/version.hpp"
#include "macvmorx/github/github_client.hpp"
#include "macvmorx/http/router.hpp"
#include "macvmorx/http/server.hpp"
#include "macvmorx/metrics/github_metrics.hpp"
#include "macvmorx/metrics/http_metrics.hpp"
#include "macvmorx/metrics/leadership_metrics.hpp"
#include "macvmorx/metrics/placement_metrics.hpp"
#include "macvmorx/metrics/scrape.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"
#include "macvmorx/storage/durable_store.hpp"
#include "macvmorx/storage/leader_lease.hpp"
#include "macvmorx/web/web_assets.hpp"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>

namespace macvmorx::app {
namespace {

orchestrator::OrchestratorOptions orchestrator_options(const config::ServerConfig& config) {
    orchestrator::OrchestratorOptions options;
    options.offline_timeout = config.offline_timeout;
    options.scheduling.max_vms_per_node = config.max_vms_per_node;
    options.lifecycle.placement_ttl = config.placement_ttl;
    options.lifecycle.start_deadline = config.start_deadline;
    options.lifecycle.queue_timeout = config.queue_timeout;
    options.lifecycle.retention = config.vm_retention;
    options.lifecycle.max_attempts = config.max_attempts;
    options.lifecycle.max_queue_length = config.max_queue_length;
    options.images.max_concurrent_pulls = config.max_concurrent_pulls;
    const auto& scheduling = config.scheduling;
    options.lifecycle.queue.fair_share = scheduling.fair_share;
    options.lifecycle.queue.priority_aging = scheduling.priority_aging;
    for (const auto& [name, share] : scheduling.tenants) {
        options.lifecycle.queue.tenants.emplace(name, lifecycle::TenantPolicy{share.weight, share.max_vms});
    }
    return options;
}

http::ServerOptions server_options(const config::ServerConfig& config) {
    http::ServerOptions options;
    options.bind_address = config.bind_address;
    options.port = config.port;
    options.threads = config.threads;
    options.limits.max_body_bytes = config.max_body_bytes;
    options.limits.max_connections = config.max_connections;
    options.limits.idle_timeout = config.idle_timeout;
    options.limits.io_timeout = config.io_timeout;
    if (!config.tls_certificate_file.empty()) {
        options.tls = http::TlsFiles{config.tls_certificate_file, config.tls_key_file, config.client_ca_file};
    }
    return options;
}

// This run of this daemon, as the lease names its holder: a daemon that steps down and starts
// again is another holder, so that its old term's epoch can never be renewed.
std::string holder_id(std::uint16_t port) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    std::random_device random;
    char suffix[9];
    std::snprintf(suffix, sizeof suffix, "%08x", random());
    return std::string{host} + ":" + std::to_string(port) + "/" + std::to_string(::getpid()) + "/" + suffix;
}

std::string default_advertise_url(const config::ServerConfig& config, std::uint16_t port) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    return std::string{config.tls_certificate_file.empty() ? "http" : "https"} + "://" + host + ":" + std::to_string(port);
}

} // namespace

struct Daemon::Parts {
    Parts(config::ServerConfig daemon_config, const Clock& daemon_clock, IdSource& daemon_ids)
        : config{std::move(daemon_config)},
          clock{daemon_clock},
          ids{daemon_ids},
          orchestrator{orchestrator_options(config), clock, ids},
          web{config.web_dir.empty() ? web::WebAssets::embedded() : web::WebAssets::from_directory(config.web_dir)},
          context{orchestrator, web},
          router{api::build_router(context)},
          http_metrics{router, *metrics_registry},
          guard{clock},
          server{server_options(config), router} {
        router.set_observer(&http_metrics);
        router.set_max_long_polls(config.max_long_polls);
        orchestrator.add_lifecycle_observer(&placement_metrics);
        context.http_metrics = &http_metrics;
        context.placement_metrics = &placement_metrics;
        context.ready = &ready;
        context.started_at = clock.now();
        context.waits = &waits;
        context.peer_grants = &peer_grants;
        context.image_fetches = &image_fetches;
    }

    config::ServerConfig config;
    const Clock& clock;
    IdSource& ids;
    orchestrator::Orchestrator orchestrator;
    web::WebAssets web;
    api::ApiContext context;
    http::Router router;
    std::shared_ptr<prometheus::Registry> metrics_registry = metrics::make_registry();
    metrics::HttpMetrics http_metrics;
    metrics::PlacementMetrics placement_metrics{*metrics_registry};
    metrics::JobWaitMetrics job_wait_metrics{*metrics_registry};
    api::WaitBudget waits{1024}; // long polls per token
    api::PeerGrants peer_grants;
    fleet::ImageFetches image_fetches;
    auth::TokenGuard guard; // on the router only with a tokens file
    std::atomic<bool> ready{false};
    std::unique_ptr<storage::DurableStore> durable;
    // Several daemons on PostgreSQL (--database-url): the lease and what it fences, whether this
    // one leads, and the loop that decides it. Absent for a daemon alone.
    metrics::LeadershipMetrics leadership_metrics{*metrics_registry};
    std::shared_ptr<storage::WriteFence> fence;
    std::unique_ptr<storage::LeaderLease> lease;
    std::unique_ptr<api::Leadership> leadership;
    std::unique_ptr<api::LeaderGate> gate;
    std::unique_ptr<LeaderElection> election;
    std::function<void()> on_step_down;
    std::atomic<bool> stepped_down{false};
    // Sweeps wait until then after a failover: nodes are unknown until their next heartbeat.
    std::atomic<TimePoint> sweeps_from{TimePoint{}};
    // GitHub Actions, when runner pools are configured; the worker makes the calls to GitHub.
    std::unique_ptr<github::GithubClient> github;
    std::unique_ptr<actions::WorkflowJobs> workflow_jobs;
    // std::thread and a flag, not std::jthread: Apple's libc++ has no jthread.
    std::thread github_worker;
    std::atomic<bool> github_stopping{false};
    http::Server server;

    // Reads the tokens file into the guard; returns how many tokens it holds. Throws
    // auth::TokenFileError, leaving the tokens in use.
    std::size_t load_tokens() {
        auto table = std::make_shared<const auth::TokenTable>(auth::TokenTable::load(config.tokens_file));
        const auto count = table->size();
        guard.replace(std::move(table));
        return count;
    }

    // `stored` holds what an earlier run left, when records are durable.
    void start_github_actions(storage::StoredState* stored);
    void stop_github_actions();
    // Loads the records into the orchestrator and has the store observe every change from then.
    void restore_records();
    // Several daemons: the store on PostgreSQL, the gate, and the election, started once serving.
    void open_shared_database();
    bool promote(std::uint64_t epoch);
    bool may_sweep() const;
};

void Daemon::Parts::restore_records() {
    auto state = durable->load();
    spdlog::info("loaded {} VM records, {} queued requests and {} node settings from {}", state.vms.size(),
                 state.queue.size(), state.nodes.size(), durable->location());
    orchestrator.restore(std::move(state.vms), state.queue, std::move(state.nodes), state.image_pins);
    // Observed only after the restore: what was just read need not be written again.
    orchestrator.add_lifecycle_observer(durable.get());
    orchestrator.set_settings_observer(durable.get());
    context.durable = durable.get();
    if (config.actions) start_github_actions(&state);
}

void Daemon::Parts::open_shared_database() {
    fence = std::make_shared<storage::WriteFence>(holder_id(config.port));
    durable = std::make_unique<storage::DurableStore>(
        storage::PostgresOptions{config.database_url, config.database_start_wait}, fence);
    durable->set_commit_observer(
        [this](std::chrono::duration<double> seconds, bool committed) { leadership_metrics.commit(seconds, committed); });
    durable->set_fenced_handler([this] {
        if (election) election->fenced();
    });
    leadership = std::make_unique<api::Leadership>(config.advertise_url);
    gate = std::make_unique<api::LeaderGate>(*leadership, [this] { return durable->failing(); });
    router.set_route_gate(gate.get());
    context.leadership = leadership.get();
    spdlog::info("records in PostgreSQL at {}; following until this daemon takes the leader's lease",
                 durable->location());
}

bool Daemon::Parts::promote(std::uint64_t epoch) {
    try {
        restore_records();
    } catch (const std::exception& error) {
        spdlog::error("cannot load the records to lead: {}", error.what());
        return false;
    }
    // Agents report to the new leader within a heartbeat or two; until one offline timeout has
    // passed, no node is declared lost and no VM gone for want of a report.
    sweeps_from = clock.now() + config.offline_timeout;
    spdlog::info("leading (epoch {}) at {}", epoch, leadership->self_url());
    return true;
}

bool Daemon::Parts::may_sweep() const {
    if (!leadership) return true;
    return leadership->role() == api::Role::leader && clock.now() >= sweeps_from.load();
}

void Daemon::Parts::start_github_actions(storage::StoredState* stored) {
    const auto& actions_config = *config.actions;
    const auto& settings = actions_config.github;
    github::Credentials credentials;
    credentials.token = config.github_secrets.token;
    credentials.app_id = settings.app_id;
    credentials.installation_id = settings.installation_id;
    credentials.app_key_pem = config.github_secrets.app_key_pem;
    http::WebClientOptions client_options;
    client_options.ca_file = settings.ca_file;
    github = std::make_unique<github::GithubClient>(http::BaseUrl::parse(settings.api_url), std::move(credentials),
                                                    clock, client_options);
    actions::WorkflowJobsOptions options;
    options.pools = actions_config.pools;
    options.runner_prefix = settings.runner_prefix;
    options.registration_deadline = settings.registration_deadline;
    options.reconcile_interval = settings.reconcile_interval;
    if (settings.app_id) options.installation_id = settings.installation_id;
    workflow_jobs = std::make_unique<actions::WorkflowJobs>(std::move(options), orchestrator, *github, clock, ids);
    orchestrator.add_lifecycle_observer(workflow_jobs.get());
    if (stored != nullptr) {
        spdlog::info("loaded {} GitHub jobs and {} webhook delivery ids", stored->jobs.size(), stored->deliveries.size());
        workflow_jobs->restore(std::move(stored->jobs), stored->deliveries);
    }
    if (durable) workflow_jobs->set_observer(durable.get());
    workflow_jobs->set_wait_observer(&job_wait_metrics);
    context.job_wait_metrics = &job_wait_metrics;
    context.workflow_jobs = workflow_jobs.get();
    context.webhook_secret = &config.github_secrets.webhook_secret;
    github_worker = std::thread{[this] {
        while (!github_stopping.load()) {
            const auto next = workflow_jobs->run_due_tasks();
            workflow_jobs->wait_for_work(next.value_or(clock.now() + std::chrono::seconds{1}));
        }
    }};
    spdlog::info("GitHub Actions: {} runner pools, GitHub at {}", actions_config.pools.size(), settings.api_url);
}

void Daemon::Parts::stop_github_actions() {
    if (!github_worker.joinable()) return;
    github_stopping = true;
    workflow_jobs->wake();
    github_worker.join();
}

namespace {
SystemClock system_clock;
RandomIdSource random_ids;
} // namespace

Daemon::Daemon(config::ServerConfig config) : Daemon(std::move(config), system_clock, random_ids) {}

Daemon::Daemon(config::ServerConfig config, const Clock& clock, IdSource& ids)
    : parts_{std::make_unique<Parts>(std::move(config), clock, ids)} {}

Daemon::~Daemon() { stop(); }

bool Daemon::reload() {
    bool reloaded = true;
    if (!parts_->config.tls_certificate_file.empty()) {
        try {
            parts_->server.reload_tls();
            spdlog::info("reload: TLS certificate {} for new connections", parts_->config.tls_certificate_file);
        } catch (const http::TlsError& error) {
            spdlog::error("reload: kept the TLS certificate in use; {}", error.what());
            reloaded = false;
        }
    }
    if (parts_->workflow_jobs && !parts_->config.config_file.empty()) {
        try {
            const auto actions = config::load_actions_config(parts_->config.config_file);
            const auto need_restart = parts_->workflow_jobs->update_pools(actions.pools);
            spdlog::info("reload: {} runner pools from {}", actions.pools.size(), parts_->config.config_file);
            for (const auto& pool : need_restart) {
                spdlog::warn("reload: pool {} was added or removed: that takes a restart", pool);
            }
        } catch (const config::ConfigError& error) {
            spdlog::error("reload: kept the runner pools in use; {}", error.what());
            reloaded = false;
        }
    }
    if (parts_->config.tokens_file.empty()) return reloaded;
    try {
        const auto count = parts_->load_tokens();
        spdlog::info("reload: {} tokens from {}", count, parts_->config.tokens_file);
        return reloaded;
    } catch (const auth::TokenFileError& error) {
        spdlog::error("reload: kept the tokens in use; {}", error.what());
        return false;
    }
}

std::uint16_t Daemon::start() {
    const auto& tokens_file = parts_->config.tokens_file;
    if (!tokens_file.empty()) {
        // A broken file at start is fatal (TokenFileError): better no daemon than an open one.
        const auto count = parts_->load_tokens();
        spdlog::info("tokens required: {} tokens from {}", count, tokens_file);
        parts_->router.set_access_guard(&parts_->guard);
    } else if (config::is_open_beyond_loopback(parts_->config)) {
        spdlog::warn("NO TOKENS FILE: anyone who can reach {}:{} may report hosts, place and delete VMs. "
                     "Give --tokens-file (docs/security.md) before exposing the port.",
                     parts_->config.bind_address, parts_->config.port);
    }
    auto& parts = *parts_;
    // A descriptor per connection and per long poll, and some for the database and files.
    const auto wanted = std::uint64_t{parts.config.max_connections} + parts.config.max_long_polls + 512;
    const auto files = raise_open_files_limit(wanted);
    if (files.after < wanted) {
        spdlog::warn("the open-files limit is {} (hard limit {}): fewer than the {} that --max-connections and "
                     "--max-long-polls may take; raise LimitNOFILE= (or ulimit -Hn) for a large fleet",
                     files.after, files.hard, wanted);
    } else if (files.after != files.before) {
        spdlog::info("open-files limit raised from {} to {}", files.before, files.after);
    }
    const bool shared = !parts.config.database_url.empty();
    if (shared) {
        parts.open_shared_database();
    } else if (!parts.config.data_dir.empty()) {
        parts.durable = std::make_unique<storage::DurableStore>(parts.config.data_dir);
        parts.restore_records();
    } else if (parts.config.actions) {
        parts.start_github_actions(nullptr);
    }
    const auto port = parts.server.start();
    auto& orchestrator = parts.orchestrator;
    parts.server.every(parts.config.monitor_interval, [&parts] {
        if (parts.may_sweep()) parts.orchestrator.sweep();
    });
    parts.server.every(parts.config.monitor_interval, [&parts] {
        if (parts.may_sweep() && parts.workflow_jobs) parts.workflow_jobs->sweep();
    });
    // Long polls end at their deadline within this much.
    parts.server.every(std::chrono::milliseconds{100}, [&orchestrator] { orchestrator.expire_long_polls(); });
    if (shared) {
        parts.leadership->set_self_url(parts.config.advertise_url.empty() ? default_advertise_url(parts.config, port)
                                                                         : parts.config.advertise_url);
        parts.lease = std::make_unique<storage::LeaderLease>(parts.config.database_url, parts.fence->holder(),
                                                             parts.leadership->self_url(), parts.config.lease_duration);
        LeaderElection::Actions actions;
        actions.promote = [&parts](std::uint64_t epoch) { return parts.promote(epoch); };
        actions.step_down = [&parts](const std::string&) {
            parts.stepped_down = true;
            if (parts.on_step_down) parts.on_step_down();
        };
        parts.election = std::make_unique<LeaderElection>(*parts.lease, *parts.fence, *parts.leadership,
                                                          parts.leadership_metrics, std::move(actions));
        parts.election->start();
    } else {
        parts.leadership_metrics.set_leader(true);
    }
    parts.context.leadership_metrics = &parts.leadership_metrics;
    parts.ready = true;
    return port;
}

void Daemon::on_step_down(std::function<void()> action) { parts_->on_step_down = std::move(action); }

bool Daemon::stepped_down() const { return parts_->stepped_down.load(); }

void Daemon::stop() {
    parts_->ready = false;
    // No promotion under way from here, and no lease renewed.
    if (parts_->election) parts_->election->stop();
    // Agents waiting in a long poll get their answer now rather than holding the shutdown up.
    parts_->orchestrator.release_long_polls();
    parts_->stop_github_actions();
    parts_->server.stop();
    if (parts_->durable && !parts_->stepped_down && !parts_->durable->flush()) {
        spdlog::error("some changes could not be written to {}", parts_->durable->location());
    }
    // Last: the lease ends once everything is written, so the next leader loads it all.
    if (parts_->election) parts_->election->release();
}

std::uint16_t Daemon::port() const { return parts_->server.port(); }

std::size_t Daemon::open_connections() const { return parts_->server.open_connections(); }

std::size_t Daemon::long_polls_waiting() const { return parts_->router.long_polls_waiting(); }

const config::ServerConfig& Daemon::config() const { return parts_->config; }

orchestrator::Orchestrator& Daemon::orchestrator() { return parts_->orchestrator; }

int run_server(const config::ServerConfig& config) {
    block_signals();
    try {
        configure_logging(config.log);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "macvmorx: error: cannot open the log file %s: %s\n", config.log.file.c_str(), error.what());
        return 1;
    }
    auto effective = config;
    // A daemon that steps down is made again, a follower with nothing of its term in memory, on
    // the same port (docs/high-availability.md).
    for (bool first = true;; first = false) {
        Daemon daemon{effective};
        daemon.on_step_down([] { ::kill(::getpid(), SIGUSR2); });
        std::uint16_t port = 0;
        try {
            port = daemon.start();
        } catch (const storage::DatabaseUnreachable& error) {
            spdlog::critical("cannot reach the database: {}", error.what());
            return exit_database_unreachable;
        } catch (const storage::SchemaTooNew& error) {
            spdlog::critical("cannot use the database: {}; run the newer macvmorx, or restore a backup", error.what());
            return exit_schema_too_new;
        } catch (const storage::StorageError& error) {
            spdlog::critical("cannot use the {}: {}", config.database_url.empty() ? "data directory" : "database",
                             error.what());
            return 1;
        } catch (const auth::TokenFileError& error) {
            spdlog::critical("cannot use the tokens file: {}", error.what());
            return 1;
        } catch (const http::TlsError& error) {
            spdlog::critical("cannot serve HTTPS: {}", error.what());
            return 1;
        } catch (const std::exception& error) {
            spdlog::critical("cannot listen on {}:{}: {}", config.bind_address, effective.port, error.what());
            return 1;
        }
        effective.port = port;
        if (first) {
            spdlog::info("macvmorx {} listening on {}://{}:{} ({})", version(),
                         config.tls_certificate_file.empty() ? "http" : "https", config.bind_address, port,
                         config::describe(effective));
        } else {
            spdlog::info("serving again on port {}, as a follower", port);
        }

        bool again = false;
        for (;;) {
            const int signal_number = wait_for_signal();
            if (signal_number == SIGHUP) {
                spdlog::info("received SIGHUP, reloading");
                daemon.reload();
                continue;
            }
            if (signal_number == SIGUSR2) {
                if (!daemon.stepped_down()) continue; // not ours: only a step-down restarts
                again = true;
                break;
            }
            spdlog::info("received {}, shutting down", strsignal(signal_number));
            break;
        }
        daemon.stop();
        if (!again) break;
    }
    spdlog::info("stopped");
    return 0;
}

} // namespace macvmorx::app
