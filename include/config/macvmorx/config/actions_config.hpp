#pragma once

#include "macvmorx/base/clock.hpp"
#include "macvmorx/protocol/labels.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string_view>
#include <stdexcept>
#include <string>
#include <vector>

namespace macvmorx::config {

class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Where runners of a pool register: an organisation or one repository.
struct GithubScope {
    std::string owner;
    std::string repository; // empty for an organisation

    bool is_organisation() const { return repository.empty(); }
    // "org:acme" or "repo:acme/app"; nullopt when malformed.
    static std::optional<GithubScope> parse(std::string_view text);
    std::string to_string() const;
    // "/orgs/acme" or "/repos/acme/app": the REST prefix of its runner endpoints.
    std::string api_path() const;
    // Whether a job of the repository "owner/name" may use runners of this scope: the
    // organisation's repositories, or the one repository. Owner and repository names are not
    // case sensitive on GitHub.
    bool covers(std::string_view repository) const;
    bool operator==(const GithubScope&) const = default;
};

// Whose share of the fleet a pool's runner VM counts against (docs/scheduling.md): the
// repository of the job it is for, its organisation, or the pool itself.
enum class TenantOf { repository, organisation, pool };

// A kind of runner: the jobs it takes (all their `runs-on` labels) and the VM that runs it.
struct RunnerPool {
    std::string name;
    std::vector<std::string> runs_on; // every label a job asks for must be here (case-insensitively)
    std::string image;
    protocol::Labels node_labels; // the Macs it may run on
    GithubScope scope;
    std::int64_t runner_group_id = 1;
    int warm = 0; // VMs kept booted and registered ahead of demand
    std::optional<int> cpu;
    std::optional<double> memory_gb;
    int priority = 0; // of its VMs in the queue: higher first
    TenantOf tenant_of = TenantOf::repository;
    // When `image` changes (SIGHUP), the pool keeps its old image until this many hosts hold the
    // new one, which is pulled to them ahead of demand; 0: it switches at once.
    int switch_when_hosts = 0;

    // Whether a job asking for `labels` is one for this pool.
    bool takes(const std::vector<std::string>& labels) const;
};

// How macvmorx talks to GitHub. Secrets are read from files, never given as values.
struct GithubSettings {
    std::string api_url = "https://api.github.com";
    std::optional<std::int64_t> app_id;
    std::optional<std::int64_t> installation_id;
    std::string app_key_file;
    std::string token_file;
    std::string webhook_secret_file;
    std::string ca_file; // extra CA bundle for GitHub Enterprise Server with a private CA
    std::string runner_prefix = "macvmorx";
    Duration registration_deadline = std::chrono::minutes{10};
    Duration reconcile_interval = std::chrono::minutes{1};
};

// A tenant's share when requests wait ([scheduling.tenants."NAME"]).
struct TenantShare {
    double weight = 1;
    std::optional<int> max_vms;
};

// How waiting requests are ordered ([scheduling]).
struct SchedulingConfig {
    bool fair_share = true;
    Duration priority_aging = std::chrono::minutes{10};
    std::map<std::string, TenantShare, std::less<>> tenants;
};

struct ActionsConfig {
    GithubSettings github;
    SchedulingConfig scheduling;
    std::vector<RunnerPool> pools;
    bool declares_github = false; // the file has a [github] table
};

// The secrets GithubSettings name, read from their files.
struct GithubSecrets {
    std::string webhook_secret;
    std::string token;       // a fine-grained token, or empty for a GitHub App
    std::string app_key_pem; // the App's private key
};

// Checks that `settings` name a webhook secret and one way to authenticate (a token file, or an
// App id, installation id and key file), and reads them. Throws ConfigError naming the setting.
GithubSecrets load_github_secrets(const GithubSettings& settings);

// Reads a TOML configuration file (see docs/github-actions.md). Throws ConfigError naming
// the file, the setting and what is wrong.
ActionsConfig load_actions_config(const std::filesystem::path& file);

// Why `url` cannot be GitHub's API, or nullopt: it must be https://, or http:// to a loopback
// host only (a test's fake GitHub), since the App's JWT and installation tokens travel with
// every call.
std::optional<std::string> github_api_url_problem(std::string_view url);

// Reads a secret from a file, without a trailing newline. Throws ConfigError naming `setting`.
std::string read_secret_file(const std::string& path, std::string_view setting);

} // namespace macvmorx::config
