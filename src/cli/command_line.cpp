#include "macvmorx/cli/command_line.hpp"

#include "agent_options.hpp"
#include "server_options.hpp"
#include "setting_sources.hpp"
#include "simulate_options.hpp"
#include "token_options.hpp"

#include "macvmorx/app/daemon.hpp"
#include "macvmorx/app/simulation.hpp"
#include "macvmorx/auth/token_table.hpp"
#include "macvmorx/base/version.hpp"
#include "macvmorx/config/actions_config.hpp"

#include <CLI/CLI.hpp>

#include <iostream>

namespace macvmorx::cli {
namespace {

ParsedCommandLine usage_error(ParsedCommandLine parsed, const std::string& message) {
    parsed.command = Command::exit;
    parsed.exit_code = 2;
    parsed.output = "macvmorx: error: " + message + "\n";
    return parsed;
}

} // namespace

ParsedCommandLine parse_command_line(const std::vector<std::string>& given_arguments) {
    std::vector<std::string> arguments = given_arguments;
    ParsedCommandLine parsed;
    parsed.server.threads = config::default_thread_count();

    CLI::App app{"macvmorx: an orchestrator for fleets of Mac hosts running ephemeral macOS VMs", "macvmorx"};
    app.set_version_flag("--version", std::string(version()));
    app.require_subcommand(1);
    auto* server = app.add_subcommand("server", "Run the orchestrator: the REST API and the dashboard on one port");
    ServerText server_text;
    add_server_options(*server, parsed.server, server_text);
    auto* simulate = app.add_subcommand(
        "simulate", "Run a simulated fleet of Mac Minis (and optionally CI jobs) against an orchestrator");
    SimulateText simulate_text;
    add_simulate_options(*simulate, parsed.simulation, simulate_text, parsed.log);
    auto* agent_command = app.add_subcommand(
        "agent", "Run the host agent on a Mac: report it, and make and delete its VMs with tart as the orchestrator says");
    AgentText agent_text;
    add_agent_options(*agent_command, parsed.agent, agent_text, parsed.log);
    TokenText token_text;
    auto* token_create = add_token_command(app, parsed.new_token, token_text);
    auto* version_command = app.add_subcommand("version", "Print the version");

    if (!arguments.empty() && arguments.front() == "agent") {
        const std::vector<std::string> agent_arguments(arguments.begin() + 1, arguments.end());
        if (const auto error = merge_settings_file(*agent_command,
                                                   config_file_argument(agent_arguments, "MACVMORX_AGENT_CONFIG"),
                                                   arguments)) {
            return usage_error(std::move(parsed), *error);
        }
    }

    if (!arguments.empty() && arguments.front() == "server") {
        // The server's file holds its settings as top-level keys (database-url = "..."), beside
        // the GitHub Actions tables.
        const std::vector<std::string> server_arguments(arguments.begin() + 1, arguments.end());
        if (const auto error = merge_settings_file(*server, config_file_argument(server_arguments, "MACVMORX_CONFIG"),
                                                   arguments, /*skip_tables=*/true)) {
            return usage_error(std::move(parsed), *error);
        }
    }

    // CLI11 wants argv order reversed when given a vector.
    std::vector<std::string> reversed(arguments.rbegin(), arguments.rend());
    try {
        app.parse(reversed);
    } catch (const CLI::CallForHelp&) {
        parsed.output = app.help();
        return parsed;
    } catch (const CLI::CallForAllHelp&) {
        parsed.output = app.help("", CLI::AppFormatMode::All);
        return parsed;
    } catch (const CLI::CallForVersion&) {
        parsed.output = std::string(version()) + "\n";
        return parsed;
    } catch (const CLI::ParseError& error) {
        std::string message = error.what();
        for (const CLI::App* command : {server, simulate, agent_command}) message = name_the_variable(*command, arguments, message);
        return usage_error(std::move(parsed), message);
    }

    try {
        if (version_command->parsed()) {
            parsed.command = Command::version;
        } else if (token_create->parsed()) {
            if (const auto error = apply_token_text(parsed.new_token, token_text)) {
                return usage_error(std::move(parsed), *error);
            }
            parsed.command = Command::token_create;
        } else if (server->parsed()) {
            apply_server_text(parsed.server, server_text);
            parsed.command = Command::server;
        } else if (simulate->parsed()) {
            apply_simulate_text(parsed.simulation, parsed.log, simulate_text);
            parsed.command = Command::simulate;
        } else if (agent_command->parsed()) {
            if (const auto error = apply_agent_text(parsed.agent, parsed.log, agent_text)) {
                return usage_error(std::move(parsed), *error);
            }
            parsed.command = Command::agent;
        }
    } catch (const config::ConfigError& error) {
        return usage_error(std::move(parsed), error.what());
    }
    return parsed;
}

int run(int argc, char** argv) {
    std::vector<std::string> arguments;
    for (int i = 1; i < argc; ++i) arguments.emplace_back(argv[i]);
    const auto parsed = parse_command_line(arguments);
    switch (parsed.command) {
    case Command::version:
        std::cout << "macvmorx " << version() << '\n';
        return 0;
    case Command::server:
        return app::run_server(parsed.server);
    case Command::simulate:
        return app::run_simulation(parsed.simulation, parsed.log);
    case Command::agent:
        return app::run_agent(parsed.agent, parsed.log);
    case Command::token_create: {
        const std::string token = auth::generate_token();
        std::cout << token << '\n' << auth::token_file_line(auth::sha256_hex(token), parsed.new_token) << '\n'
                  << std::flush; // before the note on stderr, so that the two lines come first
        std::cerr << "macvmorx: the first line is the token, shown only now: give it to '" << parsed.new_token.name
                  << "'.\nThe second line goes into the tokens file; then send the daemon SIGHUP.\n";
        return 0;
    }
    case Command::exit:
        (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.output;
        return parsed.exit_code;
    }
    return 0;
}

} // namespace macvmorx::cli
