#include "macvmorx/config/actions_config.hpp"

#include "macvmorx/base/ascii.hpp"
#include "macvmorx/base/duration.hpp"
#include "macvmorx/base/loopback.hpp"
#include "macvmorx/protocol/image_source.hpp"
#include "macvmorx/protocol/json_fields.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <set>

namespace macvmorx::config {
namespace {

bool is_name(std::string_view text) {
    return !text.empty() && text.size() <= 100 && std::all_of(text.begin(), text.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    });
}

class Reader {
public:
    Reader(const std::filesystem::path& file, std::string where) : file_{file.string()}, where_{std::move(where)} {}

    [[noreturn]] void fail(std::string_view key, const std::string& what) const {
        throw ConfigError(file_ + ": " + where_ + (key.empty() ? "" : "." + std::string(key)) + ": " + what);
    }

    std::string string(const toml::table& table, std::string_view key, std::string fallback = {}) const {
        const auto* node = table.get(key);
        if (node == nullptr) return fallback;
        const auto value = node->value<std::string>();
        if (!value) fail(key, "must be a string");
        return *value;
    }
    std::optional<std::int64_t> integer(const toml::table& table, std::string_view key) const {
        const auto* node = table.get(key);
        if (node == nullptr) return std::nullopt;
        // An integer node only: toml++ would cast a float such as 1e300 to an integer (undefined
        // behaviour, found by the actions_config fuzz target).
        const auto value = node->value_exact<std::int64_t>();
        if (!value) fail(key, "must be a whole number");
        return value;
    }
    Duration duration(const toml::table& table, std::string_view key, Duration fallback) const {
        const auto text = string(table, key);
        if (text.empty()) return fallback;
        const auto parsed = parse_duration(text);
        if (!parsed || parsed->count() <= 0) fail(key, "'" + text + "' is not a duration (use e.g. 45s, 10m)");
        return *parsed;
    }
    std::vector<std::string> strings(const toml::table& table, std::string_view key) const {
        std::vector<std::string> out;
        const auto* array = table.get_as<toml::array>(key);
        if (array == nullptr) {
            if (table.contains(key)) fail(key, "must be an array of strings");
            return out;
        }
        for (const auto& item : *array) {
            const auto value = item.value<std::string>();
            if (!value) fail(key, "must be an array of strings");
            out.push_back(*value);
        }
        return out;
    }

private:
    std::string file_;
    std::string where_;
};

} // namespace

std::optional<GithubScope> GithubScope::parse(std::string_view text) {
    GithubScope scope;
    if (text.starts_with("org:")) {
        scope.owner = std::string(text.substr(4));
        if (!is_name(scope.owner)) return std::nullopt;
        return scope;
    }
    if (text.starts_with("repo:")) {
        const auto rest = text.substr(5);
        const auto slash = rest.find('/');
        if (slash == std::string_view::npos) return std::nullopt;
        scope.owner = std::string(rest.substr(0, slash));
        scope.repository = std::string(rest.substr(slash + 1));
        if (!is_name(scope.owner) || !is_name(scope.repository)) return std::nullopt;
        return scope;
    }
    return std::nullopt;
}

std::string GithubScope::to_string() const {
    return is_organisation() ? "org:" + owner : "repo:" + owner + "/" + repository;
}

std::string GithubScope::api_path() const {
    return is_organisation() ? "/orgs/" + owner : "/repos/" + owner + "/" + repository;
}

bool GithubScope::covers(std::string_view repository_name) const {
    const auto slash = repository_name.find('/');
    if (slash == std::string_view::npos) return false;
    if (ascii_lower(repository_name.substr(0, slash)) != ascii_lower(owner)) return false;
    return is_organisation() || ascii_lower(repository_name.substr(slash + 1)) == ascii_lower(repository);
}

bool RunnerPool::takes(const std::vector<std::string>& labels) const {
    if (labels.empty()) return false;
    std::set<std::string> offered;
    for (const auto& label : runs_on) offered.insert(ascii_lower(label));
    return std::all_of(labels.begin(), labels.end(), [&offered](const std::string& label) {
        return offered.contains(ascii_lower(label));
    });
}

std::optional<std::string> github_api_url_problem(std::string_view url) {
    if (url.starts_with("https://") && url.size() > 8) return std::nullopt;
    if (!url.starts_with("http://")) return "must be an https:// URL";
    std::string_view host = url.substr(7);
    host = host.substr(0, host.find('/'));
    if (host.starts_with("[")) {
        host = host.substr(0, host.find(']') + 1);
    } else {
        host = host.substr(0, host.find(':'));
    }
    if (is_loopback_host(host)) return std::nullopt;
    return "must be https:// (http:// only to 127.0.0.1, [::1] or localhost: GitHub's tokens travel with every call)";
}

std::string read_secret_file(const std::string& path, std::string_view setting) {
    std::ifstream in{path, std::ios::binary};
    if (!in) throw ConfigError(std::string(setting) + ": cannot read " + path);
    std::string secret{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    if (secret.empty()) throw ConfigError(std::string(setting) + ": " + path + " is empty");
    return secret;
}

GithubSecrets load_github_secrets(const GithubSettings& settings) {
    GithubSecrets secrets;
    if (settings.webhook_secret_file.empty()) {
        throw ConfigError("github.webhook_secret_file (--github-webhook-secret-file) is required: webhook deliveries "
                          "are verified with it");
    }
    secrets.webhook_secret = read_secret_file(settings.webhook_secret_file, "github.webhook_secret_file");
    const bool app = settings.app_id || settings.installation_id || !settings.app_key_file.empty();
    if (app) {
        if (!settings.app_id || !settings.installation_id || settings.app_key_file.empty()) {
            throw ConfigError("a GitHub App needs github.app_id, github.installation_id and github.app_key_file "
                              "(--github-app-id, --github-installation-id, --github-app-key-file)");
        }
        if (!settings.token_file.empty()) {
            throw ConfigError("github.token_file and a GitHub App exclude each other: choose one");
        }
        secrets.app_key_pem = read_secret_file(settings.app_key_file, "github.app_key_file");
    } else if (!settings.token_file.empty()) {
        secrets.token = read_secret_file(settings.token_file, "github.token_file");
    } else {
        throw ConfigError("GitHub credentials are required: github.token_file (--github-token-file) or a GitHub App "
                          "(--github-app-id, --github-installation-id, --github-app-key-file)");
    }
    return secrets;
}

ActionsConfig load_actions_config(const std::filesystem::path& file) {
    toml::table document;
    try {
        document = toml::parse_file(file.string());
    } catch (const toml::parse_error& error) {
        const auto& where = error.source().begin;
        throw ConfigError(file.string() + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) + ": " +
                          std::string(error.description()));
    }

    ActionsConfig config;
    if (const auto* github = document["github"].as_table()) {
        config.declares_github = true;
        const Reader read{file, "github"};
        auto& settings = config.github;
        settings.api_url = read.string(*github, "api_url", settings.api_url);
        if (const auto problem = github_api_url_problem(settings.api_url)) read.fail("api_url", *problem);
        settings.app_id = read.integer(*github, "app_id");
        settings.installation_id = read.integer(*github, "installation_id");
        settings.app_key_file = read.string(*github, "app_key_file");
        settings.token_file = read.string(*github, "token_file");
        settings.webhook_secret_file = read.string(*github, "webhook_secret_file");
        settings.ca_file = read.string(*github, "ca_file");
        settings.runner_prefix = read.string(*github, "runner_prefix", settings.runner_prefix);
        if (!is_name(settings.runner_prefix)) read.fail("runner_prefix", "may only hold letters, digits, '-', '_', '.'");
        settings.registration_deadline = read.duration(*github, "registration_deadline", settings.registration_deadline);
        settings.reconcile_interval = read.duration(*github, "reconcile_interval", settings.reconcile_interval);
    }

    if (const auto* scheduling = document["scheduling"].as_table()) {
        const Reader read{file, "scheduling"};
        auto& settings = config.scheduling;
        if (const auto* fair = scheduling->get("fair_share")) {
            const auto value = fair->value_exact<bool>();
            if (!value) read.fail("fair_share", "must be true or false");
            settings.fair_share = *value;
        }
        if (const auto* aging = scheduling->get("priority_aging")) {
            // "0s" turns ageing off.
            const auto text = aging->value<std::string>();
            const auto parsed = text ? parse_duration(*text) : std::nullopt;
            if (!parsed || parsed->count() < 0) read.fail("priority_aging", "must be a duration such as \"10m\" (\"0s\": none)");
            settings.priority_aging = *parsed;
        }
        if (const auto* tenants = scheduling->get("tenants")) {
            const auto* table = tenants->as_table();
            if (table == nullptr) read.fail("tenants", "must be a table of tenants ([scheduling.tenants.\"acme/app\"])");
            for (const auto& [name, entry] : *table) {
                const Reader tenant_read{file, "scheduling.tenants.\"" + std::string(name.str()) + "\""};
                const auto* tenant = entry.as_table();
                if (tenant == nullptr) tenant_read.fail("", "must be a table (weight, max_vms)");
                TenantShare share;
                if (const auto* weight = tenant->get("weight")) {
                    const auto value = weight->value<double>();
                    if (!value || !(*value > 0) || *value > 1'000'000) tenant_read.fail("weight", "must be a positive number");
                    share.weight = *value;
                }
                if (const auto max_vms = tenant_read.integer(*tenant, "max_vms")) {
                    if (*max_vms < 1 || *max_vms > 1'000'000) tenant_read.fail("max_vms", "must be between 1 and 1000000");
                    share.max_vms = static_cast<int>(*max_vms);
                }
                settings.tenants.emplace(std::string(name.str()), share);
            }
        }
    }

    const auto* pools = document["pools"].as_array();
    if (pools == nullptr) {
        if (document.contains("pools")) throw ConfigError(file.string() + ": pools must be an array of tables ([[pools]])");
        return config;
    }
    for (std::size_t i = 0; i < pools->size(); ++i) {
        const auto* table = (*pools)[i].as_table();
        if (table == nullptr) throw ConfigError(file.string() + ": pools[" + std::to_string(i) + "] must be a table");
        const Reader read{file, "pools[" + std::to_string(i) + "]"};
        RunnerPool pool;
        pool.name = read.string(*table, "name");
        if (!is_name(pool.name)) read.fail("name", "is required: letters, digits, '-', '_', '.'");
        if (std::any_of(config.pools.begin(), config.pools.end(), [&pool](const RunnerPool& p) { return p.name == pool.name; })) {
            read.fail("name", "'" + pool.name + "' names two pools");
        }
        pool.runs_on = read.strings(*table, "runs_on");
        if (pool.runs_on.empty()) read.fail("runs_on", "is required: the labels of the jobs this pool takes");
        pool.image = read.string(*table, "image");
        if (pool.image.empty()) read.fail("image", "is required");
        if (!protocol::fits(pool.image, protocol::image_name_rule)) {
            read.fail("image", "'" + pool.image + "' may only hold " + std::string(protocol::image_name_rule.allowed_description) +
                                   ", at most " + std::to_string(protocol::image_name_rule.max_length) + " characters");
        }
        if (const auto problem = protocol::image_source_problem(pool.image); !problem.empty()) {
            read.fail("image", "'" + pool.image + "': " + problem);
        }
        const auto scope_text = read.string(*table, "scope");
        const auto scope = GithubScope::parse(scope_text);
        if (!scope) read.fail("scope", "'" + scope_text + "' is not org:OWNER or repo:OWNER/REPO");
        pool.scope = *scope;
        pool.runner_group_id = read.integer(*table, "runner_group_id").value_or(1);
        // Range checks before narrowing: 4294967301 must not become 5.
        const auto warm = read.integer(*table, "warm").value_or(0);
        if (warm < 0 || warm > 1000) read.fail("warm", "must be between 0 and 1000");
        pool.warm = static_cast<int>(warm);
        if (const auto cpu = read.integer(*table, "cpu")) {
            if (*cpu < 1 || *cpu > 1024) read.fail("cpu", "must be between 1 and 1024");
            pool.cpu = static_cast<int>(*cpu);
        }
        if (const auto* memory = table->get("memory_gb")) {
            const auto value = memory->value<double>();
            if (!value || *value <= 0) read.fail("memory_gb", "must be a positive number");
            pool.memory_gb = value;
        }
        const auto priority = read.integer(*table, "priority").value_or(0);
        if (priority < -1000 || priority > 1000) read.fail("priority", "must be between -1000 and 1000");
        pool.priority = static_cast<int>(priority);
        const auto tenant_of = read.string(*table, "tenant", "repository");
        if (tenant_of == "repository") {
            pool.tenant_of = TenantOf::repository;
        } else if (tenant_of == "organisation" || tenant_of == "organization") {
            pool.tenant_of = TenantOf::organisation;
        } else if (tenant_of == "pool") {
            pool.tenant_of = TenantOf::pool;
        } else {
            read.fail("tenant", "'" + tenant_of + "' is not repository, organisation or pool");
        }
        const auto switch_when = read.integer(*table, "switch_when_hosts").value_or(0);
        if (switch_when < 0 || switch_when > 100'000) read.fail("switch_when_hosts", "must be between 0 and 100000");
        pool.switch_when_hosts = static_cast<int>(switch_when);
        if (const auto* labels = table->get_as<toml::table>("node_labels")) {
            for (const auto& [key, value] : *labels) {
                const auto text = value.value<std::string>();
                if (!text) read.fail("node_labels", "values must be strings");
                pool.node_labels.push_back({std::string(key.str()), *text});
            }
            protocol::normalize(pool.node_labels);
        }
        config.pools.push_back(std::move(pool));
    }
    return config;
}

} // namespace macvmorx::config
