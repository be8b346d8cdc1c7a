// The binary as an operator runs it: exit statuses, the startup line, signals.

#include "daemon_process.hpp"
#include "raw_connection.hpp"

#include "macvmorx/http/client.hpp"

#include "test_daemon.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <csignal>

using namespace std::chrono_literals;
using macvmorx::testing::DaemonProcess;
using macvmorx::testing::RawConnection;
using macvmorx::testing::status_of;

namespace {

const std::string binary = MACVMORX_BINARY;

std::vector<std::string> loopback(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"server", "--bind", "127.0.0.1", "--port", "0", "--in-memory"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

} // namespace

TEST(Process, PrintsTheEffectiveConfigurationOnceAtStartup) {
    DaemonProcess daemon{binary, loopback({"--offline-timeout", "45s"}), {"MACVMORX_MONITOR_INTERVAL=2s"}};
    ASSERT_TRUE(daemon.wait_for_port());
    const auto output = daemon.output();
    EXPECT_NE(output.find("offline-timeout=45s"), std::string::npos) << output;
    EXPECT_NE(output.find("monitor-interval=2s"), std::string::npos) << output;
    EXPECT_EQ(output.find("listening on"), output.rfind("listening on")) << "logged once";
}

TEST(Process, FlagsBeatTheEnvironment) {
    DaemonProcess daemon{binary, loopback({"--offline-timeout", "45s"}), {"MACVMORX_OFFLINE_TIMEOUT=1m"}};
    ASSERT_TRUE(daemon.wait_for_port());
    EXPECT_NE(daemon.output().find("offline-timeout=45s"), std::string::npos) << daemon.output();
}

TEST(Process, TheWebPortVariableChoosesThePort) {
    DaemonProcess daemon{binary, {"server", "--bind", "127.0.0.1", "--in-memory"}, {"MACVMORX_WEB_PORT=0"}};
    const auto port = daemon.wait_for_port();
    ASSERT_TRUE(port);
    EXPECT_NE(*port, 8080);
}

TEST(Process, ABadValueExitsWithStatus2AndOneClearLine) {
    for (const auto& args : std::vector<std::vector<std::string>>{{"server", "--port", "70000"},
                                                                  {"server", "--offline-timeout", "banana"}}) {
        DaemonProcess daemon{binary, args};
        EXPECT_EQ(daemon.wait_for_exit(5s), 2);
        const auto output = daemon.output();
        EXPECT_EQ(std::count(output.begin(), output.end(), '\n'), 1) << output;
        EXPECT_NE(output.find(args[1]), std::string::npos) << output;
    }
}

TEST(Process, APortInUseIsAClearErrorNotACrash) {
    DaemonProcess first{binary, loopback()};
    const auto port = first.wait_for_port();
    ASSERT_TRUE(port);
    DaemonProcess second{binary, {"server", "--bind", "127.0.0.1", "--in-memory", "--port", std::to_string(*port)}};
    EXPECT_EQ(second.wait_for_exit(5s), 1);
    EXPECT_NE(second.output().find("cannot listen"), std::string::npos) << second.output();
}

TEST(Process, HelpAndVersionExitWith0) {
    DaemonProcess help{binary, {"server", "--help"}};
    EXPECT_EQ(help.wait_for_exit(5s), 0);
    EXPECT_NE(help.output().find("--offline-timeout"), std::string::npos);
    DaemonProcess version{binary, {"version"}};
    EXPECT_EQ(version.wait_for_exit(5s), 0);
    EXPECT_TRUE(version.output().starts_with("macvmorx "));
}

TEST(Process, SigtermStopsPromptlyWithStatus0) {
    for (const int signal_number : {SIGTERM, SIGINT}) {
        DaemonProcess daemon{binary, loopback()};
        const auto port = daemon.wait_for_port();
        ASSERT_TRUE(port);
        // An idle keep-alive connection must not hold the shutdown up.
        RawConnection idle{*port};
        idle.send("GET /api/nodes HTTP/1.1\r\nHost: x\r\n\r\n");
        ASSERT_EQ(status_of(idle.read_response()), 200);

        const auto asked = std::chrono::steady_clock::now();
        daemon.signal(signal_number);
        EXPECT_EQ(daemon.wait_for_exit(2s), 0) << daemon.output();
        EXPECT_LT(std::chrono::steady_clock::now() - asked, 2s);
        idle.read_until_closed(1s);
        EXPECT_TRUE(idle.closed_by_peer());
    }
}

TEST(Process, AnInFlightRequestIsFinishedBeforeTheDaemonExits) {
    DaemonProcess daemon{binary, loopback()};
    const auto port = daemon.wait_for_port();
    ASSERT_TRUE(port);
    RawConnection in_flight{*port};
    const std::string body = R"({"nodeId":"mac-late"})";
    in_flight.send("POST /api/heartbeat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, 5));
    // Give the daemon the header before the signal, so the request is in flight.
    std::this_thread::sleep_for(100ms);
    daemon.signal(SIGTERM);
    std::this_thread::sleep_for(100ms);
    in_flight.send(body.substr(5));
    const auto response = in_flight.read_until_closed(2s);
    EXPECT_EQ(status_of(response), 200) << response;
    EXPECT_NE(response.find("Connection: close"), std::string::npos) << "no keep-alive while stopping";
    EXPECT_EQ(daemon.wait_for_exit(2s), 0);
}

TEST(Process, JsonLogsAreOneObjectPerLine) {
    DaemonProcess daemon{binary, loopback({"--log-format", "json"})};
    ASSERT_TRUE(daemon.wait_for_port());
    daemon.signal(SIGTERM);
    ASSERT_EQ(daemon.wait_for_exit(2s), 0);
    std::istringstream lines{daemon.output()};
    std::string line;
    int count = 0;
    while (std::getline(lines, line)) {
        const auto entry = nlohmann::json::parse(line, nullptr, false);
        ASSERT_TRUE(entry.is_object()) << line;
        EXPECT_TRUE(entry["time"].get<std::string>().ends_with("Z")) << line;
        EXPECT_TRUE(entry.contains("level")) << line;
        EXPECT_TRUE(entry["message"].is_string()) << line;
        ++count;
    }
    EXPECT_GE(count, 3) << "listening, received the signal, stopped";
}

TEST(Process, ALogFileIsWrittenAndRotated) {
    const auto directory = std::filesystem::temp_directory_path() / ("macvmorx-logs-" + std::to_string(::getpid()));
    std::filesystem::remove_all(directory);
    std::filesystem::create_directories(directory);
    const auto file = directory / "macvmorx.log";
    DaemonProcess daemon{binary, loopback({"--log-file", file.string(), "--log-file-max-size", "4KiB",
                                           "--log-file-count", "2", "--log-level", "debug"})};
    std::string port;
    ASSERT_TRUE(macvmorx::testing::eventually([&] {
        std::ifstream in{file};
        const std::string text{std::istreambuf_iterator<char>{in}, {}};
        const auto at = text.find("listening on http://127.0.0.1:");
        if (at == std::string::npos) return false;
        port = text.substr(at + 30, text.find(' ', at + 30) - at - 30);
        return true;
    }));
    EXPECT_EQ(daemon.output().find("listening"), std::string::npos) << "the log goes to the file, not to stderr";
    // Access logs at debug level fill the file past its size: it rotates, keeping two old files.
    macvmorx::http::HttpClient client{"127.0.0.1", static_cast<std::uint16_t>(std::stoi(port))};
    for (int i = 0; i < 200; ++i) client.get("/api/nodes");
    daemon.signal(SIGTERM);
    ASSERT_EQ(daemon.wait_for_exit(2s), 0);
    EXPECT_TRUE(std::filesystem::exists(directory / "macvmorx.1.log"));
    EXPECT_TRUE(std::filesystem::exists(directory / "macvmorx.2.log"));
    EXPECT_FALSE(std::filesystem::exists(directory / "macvmorx.3.log"));
    EXPECT_LE(std::filesystem::file_size(file), 4096u + 512u);
    std::filesystem::remove_all(directory);
}

namespace {

// `macvmorx token create`: the token on the first line, the tokens file's line on the second.
std::pair<std::string, std::string> create_token(const std::vector<std::string>& arguments) {
    std::vector<std::string> args{"token", "create"};
    args.insert(args.end(), arguments.begin(), arguments.end());
    DaemonProcess command{binary, args};
    EXPECT_EQ(command.wait_for_exit(5s), 0) << command.output();
    std::istringstream lines{command.output()};
    std::string token, line;
    std::getline(lines, token);
    std::getline(lines, line);
    return {token, line};
}

} // namespace

TEST(Process, TokenCreatePrintsATokenAndItsLineAndSighupLoadsANewTokensFile) {
    const auto directory = std::filesystem::temp_directory_path() / ("macvmorx-token-process-" + std::to_string(::getpid()));
    std::filesystem::create_directories(directory);
    const auto tokens = directory / "tokens";
    const auto [viewer, viewer_line] = create_token({"--role", "viewer", "--name", "ops"});
    ASSERT_TRUE(viewer.starts_with("mvx_")) << viewer;
    ASSERT_TRUE(viewer_line.starts_with("sha256:")) << viewer_line;
    EXPECT_EQ(viewer_line.find(viewer), std::string::npos) << "the file's line never holds the token itself";
    EXPECT_TRUE(viewer_line.ends_with(" viewer ops")) << viewer_line;
    std::ofstream{tokens} << viewer_line << '\n';

    DaemonProcess daemon{binary, loopback({"--tokens-file", tokens.string()})};
    const auto port = daemon.wait_for_port();
    ASSERT_TRUE(port) << daemon.output();
    EXPECT_NE(daemon.output().find("tokens required: 1 tokens"), std::string::npos) << daemon.output();
    macvmorx::http::HttpClient client{"127.0.0.1", *port};
    const auto get_nodes = [&client](const std::string& token) {
        return client.request(macvmorx::http::Method::get, "/api/nodes", {}, {{"Authorization", "Bearer " + token}}).status;
    };
    EXPECT_EQ(client.get("/api/nodes").status, 401);
    EXPECT_EQ(get_nodes(viewer), 200);

    const auto [agent, agent_line] = create_token({"--role", "agent", "--name", "mac-01", "--nodes", "mac-01"});
    EXPECT_TRUE(agent_line.ends_with(" agent mac-01 nodes=mac-01")) << agent_line;
    std::ofstream{tokens, std::ios::app} << agent_line << '\n';
    daemon.signal(SIGHUP);
    ASSERT_TRUE(macvmorx::testing::eventually([&] { return daemon.output().find("reload: 2 tokens") != std::string::npos; }))
        << daemon.output();
    const auto beat = client.request(macvmorx::http::Method::post, "/api/heartbeat", R"({"nodeId":"mac-01"})",
                                     {{"Authorization", "Bearer " + agent}, {"Content-Type", "application/json"}});
    EXPECT_EQ(beat.status, 200) << beat.body;
    EXPECT_EQ(get_nodes(viewer), 200);
    EXPECT_EQ(client.connections_opened(), 1u) << "SIGHUP kept the connection";
    daemon.signal(SIGTERM);
    EXPECT_EQ(daemon.wait_for_exit(5s), 0) << daemon.output();
    std::filesystem::remove_all(directory);
}

TEST(Process, ABrokenTokensFileStopsTheDaemonAtStartWithStatus1) {
    const auto file = std::filesystem::temp_directory_path() / ("macvmorx-broken-tokens-" + std::to_string(::getpid()));
    std::ofstream{file} << "mvx_in-clear admin alice\n";
    DaemonProcess daemon{binary, loopback({"--tokens-file", file.string()})};
    EXPECT_EQ(daemon.wait_for_exit(5s), 1);
    EXPECT_NE(daemon.output().find("cannot use the tokens file"), std::string::npos) << daemon.output();
    EXPECT_NE(daemon.output().find("line 1"), std::string::npos) << daemon.output();
    std::filesystem::remove(file);
}

TEST(Process, TheAgentMakesTheFolderOfItsLogFile) {
    // A service account may have no ~/Library/Logs: the agent's --log-file makes its folder.
    const auto home = std::filesystem::temp_directory_path() / ("macvmorx-home-" + std::to_string(::getpid()));
    std::filesystem::remove_all(home);
    const auto file = home / "Library" / "Logs" / "macvmorx-agent.log";
    DaemonProcess agent{binary, {"agent", "--server", "http://127.0.0.1:1", "--tart", "/bin/false", "--state-file", "",
                                 "--vm-log-dir", (home / "vm-logs").string(), "--log-file", file.string()}};
    EXPECT_TRUE(macvmorx::testing::eventually([&] {
        std::ifstream in{file};
        const std::string text{std::istreambuf_iterator<char>{in}, {}};
        return text.find("macvmorx agent for node") != std::string::npos;
    })) << agent.output();
    agent.signal(SIGTERM);
    EXPECT_EQ(agent.wait_for_exit(std::chrono::seconds{10}), 0);
    std::filesystem::remove_all(home);
}
