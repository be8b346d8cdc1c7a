// The agent's external commands: argument vectors, standard input, exit codes, deadlines,
// kills, and no thread kept per command that ended.

#include "macvmorx/agent/process_runner.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

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
