#include "macvmorx/base/version.hpp"
#include "macvmorx/cli/command_line.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace std::chrono_literals;
using macvmorx::cli::Command;
using macvmorx::cli::parse_command_line;

namespace {

// Sets environment variables for one test and restores a clean environment afterwards.
class CommandLineTest : public ::testing::Test {
protected:
    void SetUp() override { clear(); }
    void TearDown() override { clear(); }

    static void clear() {
        for (const char* name : {"MACVMORX_WEB_PORT", "MACVMORX_OFFLINE_TIMEOUT", "MACVMORX_MONITOR_INTERVAL",
                                 "MACVMORX_THREADS", "MACVMORX_MAX_VMS_PER_NODE", "MACVMORX_LOG_LEVEL",
                                 "MACVMORX_BIND", "MACVMORX_PLACEMENT_TTL", "MACVMORX_MAX_BODY_SIZE",
                                 "MACVMORX_AGENT_STATE_FILE", "MACVMORX_AGENT_WATCH_COMMAND"}) {
            unsetenv(name);
        }
    }
};

} // namespace

TEST_F(CommandLineTest, ServerDefaults) {
    const auto parsed = parse_command_line({"server"});
    ASSERT_EQ(parsed.command, Command::server);
    EXPECT_EQ(parsed.server.port, 8080);
    EXPECT_EQ(parsed.server.bind_address, "0.0.0.0");
    EXPECT_EQ(parsed.server.offline_timeout, 30s);
    EXPECT_EQ(parsed.server.monitor_interval, 5s);
    EXPECT_EQ(parsed.server.placement_ttl, 10min);
    EXPECT_EQ(parsed.server.max_vms_per_node, 2);
    EXPECT_EQ(parsed.server.max_body_bytes, 1u << 20);
    EXPECT_EQ(parsed.server.log.level, "info");
    EXPECT_GE(parsed.server.threads, 1u);
}

TEST_F(CommandLineTest, FlagsSetEverySetting) {
    const auto parsed = parse_command_line({"server", "-p", "9000", "--bind", "127.0.0.1", "--offline-timeout", "45s",
                                            "--monitor-interval", "500ms", "--threads", "3", "--max-vms-per-node", "4",
                                            "--log-level", "debug", "--placement-ttl", "1h", "--max-body-size", "64KiB"});
    ASSERT_EQ(parsed.command, Command::server) << parsed.output;
    EXPECT_EQ(parsed.server.port, 9000);
    EXPECT_EQ(parsed.server.bind_address, "127.0.0.1");
    EXPECT_EQ(parsed.server.offline_timeout, 45s);
    EXPECT_EQ(parsed.server.monitor_interval, 500ms);
    EXPECT_EQ(parsed.server.threads, 3u);
    EXPECT_EQ(parsed.server.max_vms_per_node, 4);
    EXPECT_EQ(parsed.server.log.level, "debug");
    EXPECT_EQ(parsed.server.placement_ttl, 1h);
    EXPECT_EQ(parsed.server.max_body_bytes, 64u << 10);
}

TEST_F(CommandLineTest, EnvironmentVariablesBeatDefaults) {
    setenv("MACVMORX_WEB_PORT", "9100", 1);
    setenv("MACVMORX_OFFLINE_TIMEOUT", "1m", 1);
    setenv("MACVMORX_MONITOR_INTERVAL", "2s", 1);
    setenv("MACVMORX_MAX_VMS_PER_NODE", "1", 1);
    setenv("MACVMORX_LOG_LEVEL", "warn", 1);
    const auto parsed = parse_command_line({"server"});
    ASSERT_EQ(parsed.command, Command::server) << parsed.output;
    EXPECT_EQ(parsed.server.port, 9100);
    EXPECT_EQ(parsed.server.offline_timeout, 1min);
    EXPECT_EQ(parsed.server.monitor_interval, 2s);
    EXPECT_EQ(parsed.server.max_vms_per_node, 1);
    EXPECT_EQ(parsed.server.log.level, "warn");
}

TEST_F(CommandLineTest, FlagsBeatEnvironmentVariables) {
    setenv("MACVMORX_WEB_PORT", "9100", 1);
    setenv("MACVMORX_OFFLINE_TIMEOUT", "1m", 1);
    const auto parsed = parse_command_line({"server", "--port", "9200", "--offline-timeout", "45s"});
    EXPECT_EQ(parsed.server.port, 9200);
    EXPECT_EQ(parsed.server.offline_timeout, 45s);
}

TEST_F(CommandLineTest, ABadValueExitsWithStatus2AndOneLineNamingTheSetting) {
    const auto expect_refused = [](const std::vector<std::string>& args, const std::string& setting) {
        const auto parsed = parse_command_line(args);
        EXPECT_EQ(parsed.command, Command::exit);
        EXPECT_EQ(parsed.exit_code, 2);
        EXPECT_NE(parsed.output.find(setting), std::string::npos) << parsed.output;
        EXPECT_EQ(std::count(parsed.output.begin(), parsed.output.end(), '\n'), 1) << parsed.output;
    };
    expect_refused({"server", "--port", "70000"}, "--port");
    expect_refused({"server", "--offline-timeout", "banana"}, "--offline-timeout");
    expect_refused({"server", "--monitor-interval", "0"}, "--monitor-interval");
    expect_refused({"server", "--threads", "0"}, "--threads");
    expect_refused({"server", "--bind", "not-an-address"}, "--bind");
    expect_refused({"server", "--log-level", "loud"}, "--log-level");
    expect_refused({"server", "--no-such-flag"}, "--no-such-flag");
}

TEST_F(CommandLineTest, ABadEnvironmentValueNamesTheVariable) {
    setenv("MACVMORX_OFFLINE_TIMEOUT", "banana", 1);
    const auto parsed = parse_command_line({"server"});
    EXPECT_EQ(parsed.exit_code, 2);
    EXPECT_NE(parsed.output.find("--offline-timeout"), std::string::npos) << parsed.output;
    EXPECT_NE(parsed.output.find("MACVMORX_OFFLINE_TIMEOUT"), std::string::npos) << parsed.output;
}

TEST_F(CommandLineTest, HelpDescribesEverySettingAndExitsWith0) {
    const auto top = parse_command_line({"--help"});
    EXPECT_EQ(top.exit_code, 0);
    EXPECT_NE(top.output.find("server"), std::string::npos);
    EXPECT_NE(top.output.find("version"), std::string::npos);

    const auto server = parse_command_line({"server", "--help"});
    EXPECT_EQ(server.exit_code, 0);
    for (const char* setting : {"--port", "--bind", "--offline-timeout", "--monitor-interval", "--threads",
                                "--max-vms-per-node", "--log-level", "--placement-ttl", "MACVMORX_WEB_PORT",
                                "MACVMORX_OFFLINE_TIMEOUT", "MACVMORX_MONITOR_INTERVAL"}) {
        EXPECT_NE(server.output.find(setting), std::string::npos) << setting;
    }
}

TEST_F(CommandLineTest, VersionIsACommandAndAFlag) {
    EXPECT_EQ(parse_command_line({"version"}).command, Command::version);
    const auto flag = parse_command_line({"--version"});
    EXPECT_EQ(flag.exit_code, 0);
    EXPECT_EQ(flag.output, std::string(macvmorx::version()) + "\n");
}

TEST_F(CommandLineTest, ACommandIsRequired) { EXPECT_EQ(parse_command_line({}).exit_code, 2); }

namespace {

std::string write_file(const std::string& name, const std::string& text) {
    const auto path = std::filesystem::temp_directory_path() / ("macvmorx-cli-" + std::to_string(::getpid()) + "-" + name);
    std::ofstream{path} << text;
    return path.string();
}

const char* pools_toml = R"(
[github]
app_id = 1
installation_id = 2

[[pools]]
name = "sonoma"
runs_on = ["self-hosted", "macos"]
image = "ghcr.io/acme/sonoma-runner:latest"
scope = "org:acme"
)";

} // namespace

TEST_F(CommandLineTest, GithubActionsComeFromTheConfigFileWithFlagsOverItAndSecretsFromFiles) {
    const auto config = write_file("pools.toml", pools_toml);
    const auto secret = write_file("secret", "webhook-secret\n");
    const auto key = write_file("key.pem", "-----BEGIN PRIVATE KEY-----\nnot checked here\n-----END PRIVATE KEY-----\n");
    setenv("MACVMORX_GITHUB_API_URL", "https://ghe.example.com/api/v3", 1);
    const auto parsed = parse_command_line({"server", "--config", config, "--github-webhook-secret-file", secret,
                                            "--github-app-key-file", key, "--github-installation-id", "99"});
    unsetenv("MACVMORX_GITHUB_API_URL");
    ASSERT_EQ(parsed.command, Command::server) << parsed.output;
    ASSERT_TRUE(parsed.server.actions);
    EXPECT_EQ(parsed.server.actions->pools.size(), 1u);
    EXPECT_EQ(parsed.server.actions->github.api_url, "https://ghe.example.com/api/v3");
    EXPECT_EQ(parsed.server.actions->github.app_id, 1);
    EXPECT_EQ(parsed.server.actions->github.installation_id, 99) << "the flag beats the file";
    EXPECT_EQ(parsed.server.github_secrets.webhook_secret, "webhook-secret");
    EXPECT_NE(parsed.server.github_secrets.app_key_pem.find("BEGIN PRIVATE KEY"), std::string::npos);
    const auto described = macvmorx::config::describe(parsed.server);
    EXPECT_NE(described.find("pools=sonoma"), std::string::npos) << described;
    EXPECT_EQ(described.find("webhook-secret"), std::string::npos) << "secrets are never printed";
}

TEST_F(CommandLineTest, IncompleteGithubSettingsExitWithStatus2NamingWhatIsMissing) {
    const auto config = write_file("pools-only.toml", pools_toml);
    auto parsed = parse_command_line({"server", "--config", config});
    EXPECT_EQ(parsed.exit_code, 2);
    EXPECT_NE(parsed.output.find("webhook_secret_file"), std::string::npos) << parsed.output;

    const auto secret = write_file("secret2", "s");
    parsed = parse_command_line({"server", "--config", config, "--github-webhook-secret-file", secret});
    EXPECT_EQ(parsed.exit_code, 2);
    EXPECT_NE(parsed.output.find("app_key_file"), std::string::npos) << parsed.output;

    parsed = parse_command_line({"server", "--github-token-file", secret});
    EXPECT_EQ(parsed.exit_code, 2);
    EXPECT_NE(parsed.output.find("need --config"), std::string::npos) << parsed.output;

    parsed = parse_command_line({"server", "--config", "/nonexistent/pools.toml"});
    EXPECT_EQ(parsed.exit_code, 2);
}

TEST_F(CommandLineTest, SecurityFlagsOfTheServerAndTheAgent) {
    const auto file = std::filesystem::temp_directory_path() / ("macvmorx-cli-pem-" + std::to_string(::getpid()));
    std::ofstream{file} << "x";
    const std::string path = file.string();

    auto parsed = parse_command_line({"server", "--tokens-file", path, "--tls-cert", path, "--tls-key", path,
                                      "--client-ca", path});
    ASSERT_EQ(parsed.command, Command::server) << parsed.output;
    EXPECT_EQ(parsed.server.tokens_file, path);
    EXPECT_EQ(parsed.server.tls_certificate_file, path);
    EXPECT_EQ(parsed.server.tls_key_file, path);
    EXPECT_EQ(parsed.server.client_ca_file, path);
    EXPECT_EQ(parse_command_line({"server", "--tls-cert", path}).exit_code, 2) << "a certificate needs its key";
    EXPECT_EQ(parse_command_line({"server", "--client-ca", path}).exit_code, 2) << "mutual TLS needs TLS";
    EXPECT_EQ(parse_command_line({"server", "--tokens-file", "/nonexistent"}).exit_code, 2);

    parsed = parse_command_line({"agent", "--server", "https://orchestrator.lab:9443", "--ca-file", path,
                                 "--client-cert", path, "--client-key", path, "--node-id", "mac-1"});
    ASSERT_EQ(parsed.command, Command::agent) << parsed.output;
    EXPECT_TRUE(parsed.agent.server.tls);
    EXPECT_EQ(parsed.agent.server.host, "orchestrator.lab");
    EXPECT_EQ(parsed.agent.server.port, 9443);
    EXPECT_EQ(parsed.agent.tls.certificate_file, path);
    EXPECT_EQ(parse_command_line({"agent", "--server", "https://orchestrator.lab", "--node-id", "m"}).agent.server.port, 443);
    parsed = parse_command_line({"agent", "--server", "http://orchestrator.lab:9000", "--ca-file", path, "--node-id", "m"});
    EXPECT_EQ(parsed.exit_code, 2);
    EXPECT_NE(parsed.output.find("need an https:// --server"), std::string::npos) << parsed.output;

    parsed = parse_command_line({"token", "create", "--role", "agent", "--name", "mac-01", "--nodes", "mac-01,spare-*"});
    ASSERT_EQ(parsed.command, Command::token_create) << parsed.output;
    EXPECT_EQ(parsed.new_token.name, "mac-01");
    EXPECT_EQ(parsed.new_token.node_patterns, (std::vector<std::string>{"mac-01", "spare-*"}));
    EXPECT_EQ(parse_command_line({"token", "create", "--role", "ci", "--name", "a b"}).exit_code, 2);
    EXPECT_EQ(parse_command_line({"token", "create", "--role", "ci", "--name", "x", "--nodes", "m"}).exit_code, 2);
    EXPECT_EQ(parse_command_line({"token", "create", "--role", "agent", "--name", "x", "--nodes", "a b"}).exit_code, 2);
    EXPECT_EQ(parse_command_line({"token", "create", "--role", "agent", "--name", "x", "--nodes", "a#b"}).exit_code, 2);
    std::filesystem::remove(file);
}

TEST_F(CommandLineTest, TheAgentKeepsItsJournalInTheHomeDirectoryUnlessToldOtherwise) {
    const char* home = std::getenv("HOME");
    auto parsed = parse_command_line({"agent", "--node-id", "m"});
    ASSERT_EQ(parsed.command, Command::agent) << parsed.output;
    EXPECT_EQ(parsed.agent.agent.state_file,
              home != nullptr && *home != '\0' ? std::string{home} + "/.macvmorx/agent-state.json" : "")
        << "without a home directory, no journal";
    EXPECT_NE(parsed.agent.tart.watch_command.find("unner.Listener"), std::string::npos);

    setenv("MACVMORX_AGENT_STATE_FILE", "/var/db/macvmorx/agent.json", 1);
    setenv("MACVMORX_AGENT_WATCH_COMMAND", "while pgrep -f [m]y-script; do sleep 5; done", 1);
    parsed = parse_command_line({"agent", "--node-id", "m"});
    EXPECT_EQ(parsed.agent.agent.state_file, "/var/db/macvmorx/agent.json");
    EXPECT_EQ(parsed.agent.tart.watch_command, "while pgrep -f [m]y-script; do sleep 5; done");
    parsed = parse_command_line({"agent", "--node-id", "m", "--state-file", ""});
    EXPECT_EQ(parsed.agent.agent.state_file, "") << "an empty flag: no journal, beating the variable";
}

TEST(OpenApiWarning, OnlyAnApiWithoutTokensListeningBeyondLoopbackIsOpenToTheNetwork) {
    macvmorx::config::ServerConfig config;
    EXPECT_TRUE(macvmorx::config::is_open_beyond_loopback(config)) << "the default binds 0.0.0.0";
    for (const char* address : {"127.0.0.1", "127.0.0.2", "::1", "localhost"}) {
        config.bind_address = address;
        EXPECT_FALSE(macvmorx::config::is_open_beyond_loopback(config)) << address;
    }
    for (const char* address : {"::", "10.0.0.5", "192.168.1.2"}) {
        config.bind_address = address;
        EXPECT_TRUE(macvmorx::config::is_open_beyond_loopback(config)) << address;
    }
    config.tokens_file = "/etc/macvmorx/tokens";
    EXPECT_FALSE(macvmorx::config::is_open_beyond_loopback(config)) << "tokens close it";
}

TEST(AgentConfigFile, SettingsComeFromTheFileUnlessAFlagOrAVariableGivesThem) {
    const auto file = std::filesystem::temp_directory_path() / ("macvmorx-agent-" + std::to_string(::getpid()) + ".toml");
    std::ofstream{file} << "# the agent of mac-42\n"
                           "server = \"https://macvmorx.lab:9443\"\n"
                           "node-id = \"mac-42\"\n"
                           "heartbeat-interval = \"10s\"\n"
                           "max-cached-images = 3\n"
                           "label = [\"xcode=16.1\", \"rack=b2\"]\n";
    const std::string path = file.string();
    unsetenv("MACVMORX_AGENT_NODE_ID");

    auto parsed = parse_command_line({"agent", "--config", path});
    ASSERT_EQ(parsed.command, Command::agent) << parsed.output;
    EXPECT_EQ(parsed.agent.server.host, "macvmorx.lab");
    EXPECT_TRUE(parsed.agent.server.tls);
    EXPECT_EQ(parsed.agent.agent.node_id, "mac-42");
    EXPECT_EQ(parsed.agent.agent.heartbeat_interval, 10s);
    EXPECT_EQ(parsed.agent.agent.max_cached_images, 3u);
    ASSERT_EQ(parsed.agent.agent.labels.size(), 2u);
    EXPECT_EQ(parsed.agent.agent.labels[1].value, "b2");

    parsed = parse_command_line({"agent", "--config", path, "--node-id", "from-flag"});
    EXPECT_EQ(parsed.agent.agent.node_id, "from-flag") << "a flag beats the file";
    setenv("MACVMORX_AGENT_NODE_ID", "from-variable", 1);
    parsed = parse_command_line({"agent", "--config", path});
    EXPECT_EQ(parsed.agent.agent.node_id, "from-variable") << "a variable beats the file";
    EXPECT_EQ(parsed.agent.agent.max_cached_images, 3u) << "the rest still comes from the file";
    unsetenv("MACVMORX_AGENT_NODE_ID");
    setenv("MACVMORX_AGENT_CONFIG", path.c_str(), 1);
    EXPECT_EQ(parse_command_line({"agent"}).agent.agent.node_id, "mac-42") << "the file named by its variable";
    unsetenv("MACVMORX_AGENT_CONFIG");

    std::ofstream{file, std::ios::trunc} << "colour = \"blue\"\n";
    parsed = parse_command_line({"agent", "--config", path});
    EXPECT_EQ(parsed.exit_code, 2);
    EXPECT_NE(parsed.output.find("'colour' is not a setting of `macvmorx agent`"), std::string::npos) << parsed.output;
    std::ofstream{file, std::ios::trunc} << "server = \"http://x:1\"\nnode-id = [\n";
    parsed = parse_command_line({"agent", "--config", path});
    EXPECT_EQ(parsed.exit_code, 2);
    EXPECT_NE(parsed.output.find(path + ":"), std::string::npos) << parsed.output;
    std::ofstream{file, std::ios::trunc} << "max-cached-images = 0\n";
    EXPECT_EQ(parse_command_line({"agent", "--config", path}).exit_code, 2) << "values from the file are checked as flags are";
    std::filesystem::remove(file);
}

TEST(ServerConfigFile, SettingsAreTopLevelKeysBesideTheGithubTablesAndFlagsAndVariablesBeatThem) {
    const auto file = std::filesystem::temp_directory_path() / ("macvmorx-server-" + std::to_string(::getpid()) + ".toml");
    std::ofstream{file} << "# macvmorx server, one of three on PostgreSQL\n"
                           "database-url = \"postgresql://macvmorx@db.lab.example/macvmorx\"\n"
                           "advertise-url = \"http://mac-orch-1.lab.example:9000\"\n"
                           "lease-duration = \"5s\"\n"
                           "offline-timeout = \"45s\"\n";
    const std::string path = file.string();
    unsetenv("MACVMORX_DATABASE_URL");
    unsetenv("MACVMORX_OFFLINE_TIMEOUT");

    auto parsed = parse_command_line({"server", "--config", path});
    ASSERT_EQ(parsed.command, Command::server) << parsed.output;
    EXPECT_EQ(parsed.server.database_url, "postgresql://macvmorx@db.lab.example/macvmorx");
    EXPECT_EQ(parsed.server.advertise_url, "http://mac-orch-1.lab.example:9000");
    EXPECT_EQ(parsed.server.lease_duration, 5s);
    EXPECT_EQ(parsed.server.offline_timeout, 45s);
    EXPECT_FALSE(parsed.server.actions) << "a file of settings alone declares no GitHub Actions";

    setenv("MACVMORX_DATABASE_URL", "postgresql://macvmorx@from-variable/macvmorx", 1);
    parsed = parse_command_line({"server", "--config", path});
    EXPECT_EQ(parsed.server.database_url, "postgresql://macvmorx@from-variable/macvmorx") << "a variable beats the file";
    parsed = parse_command_line({"server", "--config", path, "--database-url", "postgresql://macvmorx@from-flag/m"});
    EXPECT_EQ(parsed.server.database_url, "postgresql://macvmorx@from-flag/m") << "a flag beats the variable";
    unsetenv("MACVMORX_DATABASE_URL");

    // Beside the GitHub Actions tables of the same file.
    const auto secret = write_file("server-secret", "s");
    const auto key = write_file("server-key.pem", "-----BEGIN PRIVATE KEY-----\nnot checked here\n-----END PRIVATE KEY-----\n");
    std::ofstream{file, std::ios::trunc} << "offline-timeout = \"1m\"\n"
                                            "github-webhook-secret-file = \"" << secret << "\"\n"
                                            "github-app-key-file = \"" << key << "\"\n"
                                         << pools_toml;
    parsed = parse_command_line({"server", "--config", path});
    ASSERT_EQ(parsed.command, Command::server) << parsed.output;
    EXPECT_EQ(parsed.server.offline_timeout, 1min);
    ASSERT_TRUE(parsed.server.actions);
    EXPECT_EQ(parsed.server.actions->pools.size(), 1u);

    std::ofstream{file, std::ios::trunc} << "database_url = \"postgresql://x/y\"\n";
    parsed = parse_command_line({"server", "--config", path});
    EXPECT_EQ(parsed.exit_code, 2);
    EXPECT_NE(parsed.output.find("'database_url' is not a setting of `macvmorx server`"), std::string::npos) << parsed.output;
    std::ofstream{file, std::ios::trunc} << "[github]\napp_id = 1\n";
    parsed = parse_command_line({"server", "--config", path});
    EXPECT_EQ(parsed.exit_code, 2);
    EXPECT_NE(parsed.output.find("declares no [[pools]]"), std::string::npos) << parsed.output;
    std::filesystem::remove(file);
}
