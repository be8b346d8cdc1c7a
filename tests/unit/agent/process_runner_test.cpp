// The agent's external commands: argument vectors, standard input, exit codes, deadlines,
// kills, and no thread kept per command that ended.

#include "macvmorx/agent/process_runner.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <unistd.h>

using namespace std::chrono_literals;
using macvmorx::agent::ProcessResult;
using macvmorx::agent::ProcessRunner;
using macvmorx::agent::ProcessSpec;

namespace {

class ProcessRunnerTest : public ::testing::Test {
protected:
    boost::asio::io_context ioc;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work = boost::asio::make_work_guard(ioc);
    ProcessRunner runner{ioc};

    // Runs one command and waits for its result on the io_context, as the agent does.
    ProcessResult run(ProcessSpec spec) {
        std::optional<ProcessResult> result;
        runner.start(std::move(spec), [&result](ProcessResult r) { result = std::move(r); });
        while (!result) ioc.run_one();
        return *result;
    }
};

} // namespace

TEST_F(ProcessRunnerTest, ArgumentsAreNeverParsedByAShellAndInputReachesStandardInput) {
    auto result = run({{"/bin/sh", "-c", "read secret; echo \"got:$secret\"; echo \"arg:$0\"", "a b;c"}, "s3cret\n", 10s, {}});
    EXPECT_TRUE(result.ok()) << result.output;
    EXPECT_EQ(result.output, "got:s3cret\narg:a b;c\n") << "one argument with a space and a ';' stays one argument";

    result = run({{"/bin/sh", "-c", "echo failing >&2; exit 3"}, "", 10s, {}});
    EXPECT_EQ(result.exit_code, 3);
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(result.describe("tart pull x"), "tart pull x: exit status 3: failing");

    result = run({{"/nonexistent/tart", "pull"}, "", 10s, {}});
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(result.exit_code, -1) << result.output;
}

TEST_F(ProcessRunnerTest, ACommandPastItsDeadlineIsKilledAndSaysSo) {
    const auto result = run({{"/bin/sleep", "30"}, "", 100ms, {}});
    EXPECT_TRUE(result.timed_out);
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(result.describe("tart run"), "tart run: timed out");
}

TEST_F(ProcessRunnerTest, KillStopsARunningCommandAndItsResultStillArrives) {
    std::optional<ProcessResult> result;
    const auto handle = runner.start({{"/bin/sleep", "30"}, "", {}, {}}, [&result](ProcessResult r) { result = std::move(r); });
    runner.kill(handle);
    while (!result) ioc.run_one();
    EXPECT_TRUE(result->killed);
    EXPECT_FALSE(result->ok());
    runner.kill(handle); // a second kill of an ended command is harmless
}

TEST_F(ProcessRunnerTest, CommandsThatEndedKeepNoThread) {
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(run({{"/bin/true"}, "", 10s, {}}).ok());
    EXPECT_LE(runner.threads(), 2u) << "the ended commands' threads were joined by later starts";
}

TEST_F(ProcessRunnerTest, OutputArrivesPieceByPieceBeforeTheResult) {
    std::string streamed;
    bool seen_before_exit = false;
    std::optional<ProcessResult> result;
    ProcessSpec spec{{"/bin/sh", "-c", "echo 10%; sleep 0.3; echo 60%; sleep 0.3; echo done"}, "", 10s, {}};
    spec.on_output = [&](const std::string& piece) {
        streamed += piece;
        if (streamed.find("10%") != std::string::npos && !result) seen_before_exit = true;
    };
    runner.start(std::move(spec), [&result](ProcessResult r) { result = std::move(r); });
    while (!result) ioc.run_one();
    EXPECT_TRUE(seen_before_exit) << "the first line came while the command still ran";
    EXPECT_EQ(streamed, "10%\n60%\ndone\n") << "every piece, in order, before Done";
    EXPECT_EQ(result->output, streamed);
}

TEST_F(ProcessRunnerTest, TheOutputCallbackKeepsItsStateFromPieceToPiece) {
    int pieces = 0;
    int last_count = 0;
    std::optional<ProcessResult> result;
    ProcessSpec spec{{"/bin/sh", "-c", "printf 4; sleep 0.2; printf 2; sleep 0.2; echo %"}, "", 10s, {}};
    // A meter that counts the pieces itself, as the tart backend keeps a partial line.
    spec.on_output = [&pieces, &last_count, count = 0](const std::string&) mutable {
        ++pieces;
        last_count = ++count;
    };
    runner.start(std::move(spec), [&result](ProcessResult r) { result = std::move(r); });
    while (!result) ioc.run_one();
    EXPECT_GE(pieces, 3);
    EXPECT_EQ(last_count, pieces) << "one callback saw every piece";
}

TEST_F(ProcessRunnerTest, StandardErrorIsKeptApartFromOutput) {
    // tart warns on stderr before `list`'s JSON (Root.swift): the JSON must stay readable.
    const auto result = run({{"/bin/sh", "-c", "echo 'Failed to perform garbage collection' >&2; echo '[]'"}, "", 10s, {}});
    EXPECT_TRUE(result.ok());
    EXPECT_EQ(result.output, "[]\n");
    EXPECT_EQ(result.errors, "Failed to perform garbage collection\n");
    EXPECT_EQ(result.describe("tart list"), "tart list: exit status 0: Failed to perform garbage collection")
        << "errors say more than output";
}

TEST_F(ProcessRunnerTest, TheCommandGetsTheGivenVariablesBesideTheAgentsOwn) {
    ::setenv("MACVMORX_TEST_INHERITED", "kept", 1);
    ::setenv("TART_NO_AUTO_PRUNE", "from-the-agent", 1);
    ProcessSpec spec{{"/bin/sh", "-c", "echo \"$TART_NO_AUTO_PRUNE $MACVMORX_TEST_INHERITED\""}, "", 10s, {}};
    spec.environment = {"TART_NO_AUTO_PRUNE=1"};
    EXPECT_EQ(run(std::move(spec)).output, "1 kept\n") << "added variables replace the agent's of the same name";
    ::unsetenv("MACVMORX_TEST_INHERITED");
    ::unsetenv("TART_NO_AUTO_PRUNE");
}

TEST_F(ProcessRunnerTest, EachCommandLeadsAProcessGroupOfItsOwn) {
    // launchd kills the agent's whole group when the agent exits: its commands are not in it.
    const auto result = run({{"/bin/sh", "-c", "echo $$; cut -d' ' -f5 /proc/$$/stat"}, "", 10s, {}});
    ASSERT_TRUE(result.ok()) << result.output;
    const auto newline = result.output.find('\n');
    const std::string pid = result.output.substr(0, newline);
    const std::string group = result.output.substr(newline + 1, result.output.size() - newline - 2);
    EXPECT_EQ(group, pid) << "the command leads its group";
    EXPECT_NE(group, std::to_string(::getpgrp())) << "not the agent's group";
}

TEST_F(ProcessRunnerTest, AKillReachesTheCommandsOwnChildren) {
    const auto marker = std::filesystem::temp_directory_path() / ("macvmorx-child-" + std::to_string(::getpid()));
    std::filesystem::remove(marker);
    std::optional<ProcessResult> result;
    bool child_started = false;
    ProcessSpec spec{{"/bin/sh", "-c", "(sleep 1; touch '" + marker.string() + "') & echo started; wait"}, "", {}, {}};
    spec.on_output = [&child_started](const std::string&) { child_started = true; };
    const auto handle = runner.start(std::move(spec), [&result](ProcessResult r) { result = std::move(r); });
    while (!child_started) ioc.run_one();
    runner.kill(handle);
    while (!result) ioc.run_one();
    std::this_thread::sleep_for(1500ms); // past the time the child would have written
    EXPECT_FALSE(std::filesystem::exists(marker)) << "the child died with its group";
}

TEST_F(ProcessRunnerTest, OutputToAFileIsTheResultsOutputAndNeedsNoPipe) {
    const auto file = std::filesystem::temp_directory_path() / ("macvmorx-run-" + std::to_string(::getpid()) + ".log");
    std::filesystem::remove(file);
    ProcessSpec spec{{"/bin/sh", "-c", "echo started; echo crashed >&2; exit 0"}, "", 10s, {}};
    spec.output_file = file.string();
    const auto result = run(std::move(spec));
    EXPECT_TRUE(result.ok());
    EXPECT_EQ(result.output, "started\ncrashed\n") << "both streams, in the order written";
    std::ifstream in{file};
    std::string first;
    std::getline(in, first);
    EXPECT_EQ(first, "started");
    std::filesystem::remove(file);
}

TEST(ProcessRunnerLifetime, ACommandThatOutlivesTheAgentGoesOnWhenTheRunnerIsDestroyedAndOthersDoNot) {
    const auto dir = std::filesystem::temp_directory_path() / ("macvmorx-outlive-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    {
        boost::asio::io_context ioc;
        ProcessRunner runner{ioc};
        ProcessSpec vm{{"/bin/sh", "-c", "sleep 1; echo alive > '" + (dir / "vm").string() + "'"}, "", {}, {}};
        vm.output_file = (dir / "vm.log").string();
        vm.outlives_agent = true;
        runner.start(std::move(vm), [](ProcessResult) {});
        runner.start({{"/bin/sh", "-c", "sleep 1; echo alive > '" + (dir / "pull").string() + "'"}, "", {}, {}},
                     [](ProcessResult) {});
        std::this_thread::sleep_for(200ms);
    } // the agent stops
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!std::filesystem::exists(dir / "vm") && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_TRUE(std::filesystem::exists(dir / "vm")) << "`tart run` and the runner go on for the next agent";
    EXPECT_FALSE(std::filesystem::exists(dir / "pull")) << "other commands end with the agent";
    std::filesystem::remove_all(dir);
}
