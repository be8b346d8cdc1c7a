#pragma once

#include "macvmorx/base/clock.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace macvmorx::agent {

// An external command: an argument vector, never a shell string (image names and VM ids come
// from the network), with what to write to its standard input (secrets go there, never into
// the arguments) and how long it may take (zero: as long as it runs).
struct ProcessSpec {
    std::vector<std::string> argv;
    std::string input;
    Duration timeout{};
    // Called on the io_context with each piece of standard output as it comes, before the
    // command's Done (a progress meter); pieces split lines anywhere. Empty: output at the end.
    std::function<void(const std::string& piece)> on_output;
    // "NAME=value" entries added to the agent's own environment (TART_NO_AUTO_PRUNE).
    std::vector<std::string> environment = {};
    // Where standard output and error go instead of pipes to the agent (appended; empty: pipes).
    // A command writing to a file never dies of a broken pipe when the agent is gone: VMs and
    // the runners in them go on across an agent's crash or upgrade.
    std::string output_file = {};
    // Left running when the runner is destroyed (the agent stops): `tart run` and the runner
    // in the guest, which the next agent takes over. Meaningful with an output_file.
    bool outlives_agent = false;
};

struct ProcessResult {
    int exit_code = -1;    // -1 when it was killed or could not start
    bool timed_out = false;
    bool killed = false;   // by kill()
    std::string output;    // standard output, the last 64 KiB (with an output_file: the file's tail)
    std::string errors;    // standard error, the last 64 KiB (with an output_file: in `output`)
    bool ok() const { return exit_code == 0; }
    // "tart pull ...: exit status 1: <last line of errors, else of output>", for events and logs.
    std::string describe(const std::string& what) const;
};

// Runs external commands, each on a thread of its own that waits for it, and posts the result to
// the io_context. Every command leads a process group of its own: launchd, which kills the
// agent's whole group when the agent exits (launchd.plist(5), AbandonProcessGroup), and a
// terminal's Ctrl-C reach none of them, and a kill reaches the command's own children too.
// Destroying the runner kills what still runs, but for commands that outlive the agent, and
// waits for the threads.
//
// Threading: start and kill from any thread; completions run on the io_context.
class ProcessRunner {
public:
    using Done = std::function<void(ProcessResult)>;

    explicit ProcessRunner(boost::asio::io_context& ioc);
    ~ProcessRunner();
    ProcessRunner(const ProcessRunner&) = delete;
    ProcessRunner& operator=(const ProcessRunner&) = delete;

    // Starts `spec`; returns a handle for kill().
    std::uint64_t start(ProcessSpec spec, Done done);
    // Kills a command still running (SIGTERM to its group, then SIGKILL after 5 s); its Done is
    // still called.
    void kill(std::uint64_t handle);

    // Waiting threads kept: those of running commands, plus ended ones not yet joined (they
    // are joined by the next start). For tests.
    std::size_t threads() const;

private:
    struct Child;
    void run(std::shared_ptr<Child> child, ProcessSpec spec, Done done);

    boost::asio::io_context& ioc_;
    mutable std::mutex mutex_;
    std::vector<std::shared_ptr<Child>> children_;
    std::uint64_t next_handle_ = 1;
    std::atomic<bool> stopping_{false};
};

} // namespace macvmorx::agent
