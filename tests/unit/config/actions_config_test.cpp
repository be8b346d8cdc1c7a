#include "macvmorx/config/actions_config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using namespace std::chrono_literals;
using macvmorx::config::ConfigError;
using macvmorx::config::GithubScope;
using macvmorx::config::load_actions_config;

namespace {

std::filesystem::path write_config(const std::string& text) {
    const auto path = std::filesystem::temp_directory_path() /
                      ("macvmorx-config-" + std::to_string(::getpid()) + "-" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".toml");
    std::ofstream{path} << text;
    return path;
}

std::string error_of(const std::string& text) {
    try {
        load_actions_config(write_config(text));
    } catch (const ConfigError& error) {
        return error.what();
    }
    return "";
}

} // namespace

TEST(ActionsConfig, ReadsGithubSettingsAndPools) {
    const auto config = load_actions_config(write_config(R"(
[github]
api_url = "https://ghe.example.com/api/v3"
app_id = 12345
installation_id = 678
app_key_file = "/etc/macvmorx/app.pem"
webhook_secret_file = "/etc/macvmorx/webhook-secret"
runner_prefix = "lab"
registration_deadline = "5m"

[[pools]]
name = "xcode-16"
runs_on = ["self-hosted", "macOS", "xcode-16"]
image = "ghcr.io/acme/macos-sequoia-xcode:16"
scope = "org:acme"
runner_group_id = 3
warm = 2
cpu = 4
memory_gb = 8
node_labels = { arch = "arm64", chip = "m2" }

[[pools]]
name = "app-only"
runs_on = ["self-hosted", "acme-app"]
image = "macos-sonoma-base"
scope = "repo:acme/app"
)"));
    EXPECT_EQ(config.github.api_url, "https://ghe.example.com/api/v3");
    EXPECT_EQ(config.github.app_id, 12345);
    EXPECT_EQ(config.github.installation_id, 678);
    EXPECT_EQ(config.github.runner_prefix, "lab");
    EXPECT_EQ(config.github.registration_deadline, 5min);
    EXPECT_EQ(config.github.reconcile_interval, 1min) << "default";
    ASSERT_EQ(config.pools.size(), 2u);
    const auto& pool = config.pools[0];
    EXPECT_EQ(pool.name, "xcode-16");
    EXPECT_EQ(pool.scope.owner, "acme");
    EXPECT_TRUE(pool.scope.is_organisation());
    EXPECT_EQ(pool.runner_group_id, 3);
    EXPECT_EQ(pool.warm, 2);
    EXPECT_EQ(pool.cpu, 4);
    EXPECT_EQ(pool.memory_gb, 8.0);
    EXPECT_EQ(pool.node_labels, (macvmorx::protocol::Labels{{"arch", "arm64"}, {"chip", "m2"}}));
    EXPECT_EQ(config.pools[1].scope.api_path(), "/repos/acme/app");
    EXPECT_EQ(config.pools[1].runner_group_id, 1) << "the default group";
}

TEST(ActionsConfig, APoolTakesAJobWhoseLabelsItAllCarriesCaseInsensitively) {
    macvmorx::config::RunnerPool pool;
    pool.runs_on = {"self-hosted", "macOS", "xcode-16"};
    EXPECT_TRUE(pool.takes({"self-hosted", "macos", "XCODE-16"}));
    EXPECT_TRUE(pool.takes({"self-hosted", "macOS"}));
    EXPECT_FALSE(pool.takes({"self-hosted", "linux"}));
    EXPECT_FALSE(pool.takes({})) << "a job without labels is not ours";
}

TEST(ActionsConfig, ScopesAreOrganisationsOrRepositories) {
    EXPECT_EQ(GithubScope::parse("org:acme")->api_path(), "/orgs/acme");
    EXPECT_EQ(GithubScope::parse("repo:acme/app")->to_string(), "repo:acme/app");
    EXPECT_FALSE(GithubScope::parse("acme"));
    EXPECT_FALSE(GithubScope::parse("repo:acme"));
    EXPECT_FALSE(GithubScope::parse("org:ac me"));
}

TEST(ActionsConfig, MistakesNameTheFileTheSettingAndTheProblem) {
    EXPECT_NE(error_of("[[pools]]\nname = \"a\"\nimage = \"x\"\nscope = \"org:acme\"\n").find("pools[0].runs_on"),
              std::string::npos);
    EXPECT_NE(error_of("[[pools]]\nname = \"a\"\nruns_on = [\"x\"]\nimage = \"x\"\nscope = \"acme\"\n").find("pools[0].scope"),
              std::string::npos);
    EXPECT_NE(error_of("[github]\nregistration_deadline = \"soon\"\n").find("github.registration_deadline"),
              std::string::npos);
    EXPECT_NE(error_of("[github\n").find(".toml:"), std::string::npos) << "a syntax error has its line";
    const std::string twice = "[[pools]]\nname = \"a\"\nruns_on = [\"x\"]\nimage = \"x\"\nscope = \"org:acme\"\n";
    EXPECT_NE(error_of(twice + twice).find("names two pools"), std::string::npos);
    // Range checks come before narrowing to int: 4294967301 is not 5.
    EXPECT_NE(error_of(twice + "warm = 4294967301\n").find("pools[0].warm"), std::string::npos);
    EXPECT_NE(error_of(twice + "cpu = 0\n").find("pools[0].cpu"), std::string::npos);
    EXPECT_NE(error_of(twice + "cpu = 4294967300\n").find("pools[0].cpu"), std::string::npos);
    // A float is no whole number, however large (the actions_config fuzz target's finding).
    EXPECT_NE(error_of("[github]\ninstallation_id = 78E0123\n").find("github.installation_id: must be a whole number"),
              std::string::npos)
        << error_of("[github]\ninstallation_id = 78E0123\n");
    EXPECT_NE(error_of(twice + "warm = 1.0\n").find("pools[0].warm"), std::string::npos);
}

TEST(ActionsConfig, APoolsImageIsAnOciReferenceOrAWellFormedBucketObject) {
    const std::string pool = "[[pools]]\nname = \"a\"\nruns_on = [\"x\"]\nscope = \"org:acme\"\n";
    EXPECT_EQ(error_of(pool + "image = \"gs://acme-images/macos/sequoia.tvm\"\n"), "");
    EXPECT_EQ(error_of(pool + "image = \"s3://acme-images/sequoia.tvm\"\n"), "");
    const auto dots = error_of(pool + "image = \"gs://acme-images/../sequoia.tvm\"\n");
    EXPECT_NE(dots.find("pools[0].image: 'gs://acme-images/../sequoia.tvm': an object path has no '.' or '..' segment"),
              std::string::npos)
        << dots;
    EXPECT_NE(error_of(pool + "image = \"ftp://acme/x.tvm\"\n").find("not ftp://"), std::string::npos);
    EXPECT_NE(error_of(pool + "image = \"s3://acme-images/x.tvm?versionId=2\"\n").find("pools[0].image"), std::string::npos);
    EXPECT_NE(error_of(pool + "image = \"macos sonoma\"\n").find("pools[0].image: 'macos sonoma' may only hold"),
              std::string::npos);
}

TEST(ActionsConfig, SecretsComeFromFilesWithoutTheTrailingNewline) {
    const auto path = write_config("s3cret\n");
    EXPECT_EQ(macvmorx::config::read_secret_file(path.string(), "--github-webhook-secret-file"), "s3cret");
    EXPECT_THROW(macvmorx::config::read_secret_file("/nonexistent/secret", "--x"), ConfigError);
}

TEST(ActionsConfig, GithubsApiIsHttpsOrAFakeOnLoopback) {
    using macvmorx::config::github_api_url_problem;
    for (const char* url : {"https://api.github.com", "https://ghe.example.com/api/v3", "http://127.0.0.1:9999",
                            "http://127.0.0.1", "http://[::1]:8080/api", "http://localhost:80"}) {
        EXPECT_EQ(github_api_url_problem(url), std::nullopt) << url;
    }
    for (const char* url : {"http://ghe.example.com/api/v3", "http://127.0.0.1.evil.example", "http://localhost.example",
                            "http://10.0.0.1:8080", "ftp://api.github.com", "https://", "api.github.com", ""}) {
        EXPECT_NE(github_api_url_problem(url), std::nullopt) << url;
    }
    EXPECT_NE(error_of("[github]\napi_url = \"http://ghe.example.com/api/v3\"\n").find("github.api_url"),
              std::string::npos)
        << "the tokens would cross the network in the clear";
}

TEST(ActionsConfig, ReadsHowWaitingRequestsAreOrderedAndEachPoolsPriorityTenantAndRollout) {
    const auto config = load_actions_config(write_config(R"(
[scheduling]
fair_share = true
priority_aging = "5m"

[scheduling.tenants."acme/app"]
weight = 3
max_vms = 40

[scheduling.tenants.nightly]
weight = 0.5

[[pools]]
name = "release"
runs_on = ["self-hosted", "release"]
image = "macos-sequoia-xcode-16"
scope = "org:acme"
priority = 10
tenant = "organisation"
switch_when_hosts = 6
)"));
    EXPECT_TRUE(config.scheduling.fair_share);
    EXPECT_EQ(config.scheduling.priority_aging, 5min);
    ASSERT_EQ(config.scheduling.tenants.size(), 2u);
    EXPECT_EQ(config.scheduling.tenants.at("acme/app").weight, 3);
    EXPECT_EQ(config.scheduling.tenants.at("acme/app").max_vms, 40);
    EXPECT_EQ(config.scheduling.tenants.at("nightly").weight, 0.5);
    EXPECT_FALSE(config.scheduling.tenants.at("nightly").max_vms);
    ASSERT_EQ(config.pools.size(), 1u);
    EXPECT_EQ(config.pools[0].priority, 10);
    EXPECT_EQ(config.pools[0].tenant_of, macvmorx::config::TenantOf::organisation);
    EXPECT_EQ(config.pools[0].switch_when_hosts, 6);

    const auto defaults = load_actions_config(write_config("[scheduling]\npriority_aging = \"0s\"\n"));
    EXPECT_EQ(defaults.scheduling.priority_aging, 0s) << "0s turns ageing off";
    EXPECT_TRUE(defaults.scheduling.fair_share);
}

TEST(ActionsConfig, RefusesBadSchedulingSettingsNamingThem) {
    EXPECT_NE(error_of("[scheduling]\nfair_share = \"yes\"\n").find("scheduling.fair_share"), std::string::npos);
    EXPECT_NE(error_of("[scheduling]\npriority_aging = \"soon\"\n").find("scheduling.priority_aging"), std::string::npos);
    EXPECT_NE(error_of("[scheduling.tenants.a]\nweight = 0\n").find("weight"), std::string::npos);
    EXPECT_NE(error_of("[scheduling.tenants.a]\nweight = -2\n").find("weight"), std::string::npos);
    EXPECT_NE(error_of("[scheduling.tenants.a]\nmax_vms = 0\n").find("max_vms"), std::string::npos);
    EXPECT_NE(error_of("[scheduling.tenants.a]\nmax_vms = 1.5\n").find("max_vms"), std::string::npos);
    const std::string pool = "[[pools]]\nname = \"p\"\nruns_on = [\"macos\"]\nimage = \"sonoma\"\nscope = \"org:acme\"\n";
    EXPECT_NE(error_of(pool + "priority = 5000\n").find("priority"), std::string::npos);
    EXPECT_NE(error_of(pool + "tenant = \"team\"\n").find("tenant"), std::string::npos);
    EXPECT_NE(error_of(pool + "switch_when_hosts = -1\n").find("switch_when_hosts"), std::string::npos);
}
