#include "macvmorx/app/daemon.hpp"

#include "signals.hpp"

#include "macvmorx/actions/workflow_jobs.hpp"
#include "macvmorx/api/api_context.hpp"
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
#include "macvmorx/metrics/placement_metrics.hpp"
#include "macvmorx/metrics/scrape.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"
#include "macvmorx/storage/durable_store.hpp"
#include "macvmorx/web/web_assets.hpp"

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <atomic>
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
};

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
    std::optional<storage::StoredState> stored;
    if (!parts_->config.data_dir.empty()) {
        parts_->durable = std::make_unique<storage::DurableStore>(parts_->config.data_dir);
        auto& state = stored.emplace(parts_->durable->load());
        spdlog::info("loaded {} VM records, {} queued requests and {} node settings from {}", state.vms.size(),
                     state.queue.size(), state.nodes.size(), parts_->durable->file().string());
        parts_->orchestrator.restore(std::move(state.vms), state.queue, std::move(state.nodes));
        // Observed only after the restore: what was just read need not be written again.
        parts_->orchestrator.add_lifecycle_observer(parts_->durable.get());
        parts_->orchestrator.set_settings_observer(parts_->durable.get());
        parts_->context.durable = parts_->durable.get();
    }
    if (parts_->config.actions) parts_->start_github_actions(stored ? &*stored : nullptr);
    const auto port = parts_->server.start();
    auto& orchestrator = parts_->orchestrator;
    parts_->server.every(parts_->config.monitor_interval, [&orchestrator] { orchestrator.sweep(); });
    if (auto* jobs = parts_->workflow_jobs.get()) {
        parts_->server.every(parts_->config.monitor_interval, [jobs] { jobs->sweep(); });
    }
    // Long polls end at their deadline within this much.
    parts_->server.every(std::chrono::milliseconds{100}, [&orchestrator] { orchestrator.expire_long_polls(); });
    parts_->ready = true;
    return port;
}

void Daemon::stop() {
    parts_->ready = false;
    // Agents waiting in a long poll get their answer now rather than holding the shutdown up.
    parts_->orchestrator.release_long_polls();
    parts_->stop_github_actions();
    parts_->server.stop();
    if (parts_->durable && !parts_->durable->flush()) spdlog::error("some changes could not be written to disk");
}

std::uint16_t Daemon::port() const { return parts_->server.port(); }

std::size_t Daemon::open_connections() const { return parts_->server.open_connections(); }

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
    Daemon daemon{config};
    std::uint16_t port = 0;
    try {
        port = daemon.start();
    } catch (const storage::StorageError& error) {
        spdlog::critical("cannot use the data directory: {}", error.what());
        return 1;
    } catch (const auth::TokenFileError& error) {
        spdlog::critical("cannot use the tokens file: {}", error.what());
        return 1;
    } catch (const http::TlsError& error) {
        spdlog::critical("cannot serve HTTPS: {}", error.what());
        return 1;
    } catch (const std::exception& error) {
        spdlog::critical("cannot listen on {}:{}: {}", config.bind_address, config.port, error.what());
        return 1;
    }
    auto effective = config;
    effective.port = port;
    spdlog::info("macvmorx {} listening on {}://{}:{} ({})", version(),
                 config.tls_certificate_file.empty() ? "http" : "https", config.bind_address, port,
                 config::describe(effective));

    for (;;) {
        const int signal_number = wait_for_signal();
        if (signal_number == SIGHUP) {
            spdlog::info("received SIGHUP, reloading");
            daemon.reload();
            continue;
        }
        spdlog::info("received {}, shutting down", strsignal(signal_number));
        break;
    }
    daemon.stop();
    spdlog::info("stopped");
    return 0;
}

} // namespace macvmorx::app
