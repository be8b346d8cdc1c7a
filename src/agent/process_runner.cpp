#include "macvmorx/agent/process_runner.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <iterator>
#include <optional>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace macvmorx::agent {
namespace {

constexpr std::size_t max_output = 64 * 1024;

// A pipe whose ends are closed in children (they get only what dup2 gives them).
int cloexec_pipe(int fds[2]) {
#ifdef __APPLE__
    if (::pipe(fds) != 0) return -1;
    ::fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    ::fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
#else
    return ::pipe2(fds, O_CLOEXEC);
#endif
}

void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

} // namespace

std::string ProcessResult::describe(const std::string& what) const {
    std::string text = what + ": ";
    if (timed_out) {
        text += "timed out";
    } else if (killed) {
        text += "stopped";
    } else if (exit_code < 0) {
        text += "could not run";
    } else {
        text += "exit status " + std::to_string(exit_code);
    }
    // The last line says most about what went wrong.
    std::string last = output;
    while (!last.empty() && (last.back() == '\n' || last.back() == '\r')) last.pop_back();
    if (const auto newline = last.rfind('\n'); newline != std::string::npos) last = last.substr(newline + 1);
    if (!last.empty()) text += ": " + last.substr(0, 300);
    return text;
}

struct ProcessRunner::Child {
    std::uint64_t handle = 0;
    std::mutex mutex;
    pid_t pid = -1;
    bool killed = false;
    bool done = false;   // set by the waiting thread as its last step before posting the result
    std::thread waiter;  // joined once done (by a later start) or at destruction
};

ProcessRunner::ProcessRunner(boost::asio::io_context& ioc) : ioc_{ioc} {
    // A command that exits before reading its input must not take the agent down with SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
}

ProcessRunner::~ProcessRunner() {
    stopping_ = true;
    std::vector<std::shared_ptr<Child>> children;
    {
        std::lock_guard lock{mutex_};
        for (const auto& child : children_) {
            std::lock_guard child_lock{child->mutex};
            if (child->pid > 0 && !child->done) ::kill(child->pid, SIGKILL);
            child->killed = true;
        }
        children = std::move(children_);
    }
    for (auto& child : children) {
        if (child->waiter.joinable()) child->waiter.join();
    }
}

std::size_t ProcessRunner::threads() const {
    std::lock_guard lock{mutex_};
    return children_.size();
}

std::uint64_t ProcessRunner::start(ProcessSpec spec, Done done) {
    auto child = std::make_shared<Child>();
    std::vector<std::shared_ptr<Child>> ended;
    {
        std::lock_guard lock{mutex_};
        child->handle = next_handle_++;
        // Children that ended leave the list, so that an agent running for months keeps a
        // thread only per command still running.
        const auto first_ended = std::stable_partition(children_.begin(), children_.end(), [](const auto& c) {
            std::lock_guard child_lock{c->mutex};
            return !c->done;
        });
        std::move(first_ended, children_.end(), std::back_inserter(ended));
        children_.erase(first_ended, children_.end());
        children_.push_back(child);
        child->waiter = std::thread{[this, child, spec = std::move(spec), done = std::move(done)]() mutable {
            run(child, std::move(spec), std::move(done));
        }};
    }
    // Their threads are past their last step: the joins are immediate.
    for (auto& old : ended) old->waiter.join();
    return child->handle;
}

void ProcessRunner::kill(std::uint64_t handle) {
    std::shared_ptr<Child> child;
    {
        std::lock_guard lock{mutex_};
        for (const auto& c : children_) {
            if (c->handle == handle) child = c;
        }
    }
    if (!child) return;
    std::lock_guard child_lock{child->mutex};
    if (child->done) return;
    child->killed = true; // before the spawn: the command never starts
    if (child->pid > 0) ::kill(child->pid, SIGTERM);
}

void ProcessRunner::run(std::shared_ptr<Child> child, ProcessSpec spec, Done done) {
    ProcessResult result;
    int input[2] = {-1, -1};
    int output[2] = {-1, -1};
    if (spec.argv.empty() || cloexec_pipe(input) != 0 || cloexec_pipe(output) != 0) {
        result.output = "cannot start a process";
        boost::asio::post(ioc_, [done = std::move(done), result] { done(result); });
        return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, input[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, output[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, output[1], STDERR_FILENO);
    // Nothing else of the agent's leaks into the child (a long-lived `tart run` would keep it).
#ifndef __APPLE__
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif
    // The agent blocks SIGTERM and SIGINT in its threads and ignores SIGPIPE: a child starts
    // with neither, so that it can be stopped and behaves as from a shell.
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attributes, &none);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
#ifdef __APPLE__
    // macOS's way of closing everything the file actions do not name.
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_CLOEXEC_DEFAULT);
#else
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
#endif
    std::vector<char*> argv;
    for (auto& arg : spec.argv) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    int spawned = 0;
    {
        std::lock_guard child_lock{child->mutex};
        // posix_spawnp looks the program up in PATH, as a shell would, but runs no shell.
        // A kill that came before the spawn stops the command from starting at all.
        spawned = stopping_ || child->killed ? ECANCELED
                                             : posix_spawnp(&pid, argv[0], &actions, &attributes, argv.data(), environ);
        child->pid = spawned == 0 ? pid : -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    close_fd(input[0]);
    close_fd(output[1]);
    if (spawned != 0) {
        close_fd(input[1]);
        close_fd(output[0]);
        result.output = spec.argv[0] + ": " + std::strerror(spawned);
        {
            std::lock_guard child_lock{child->mutex};
            child->done = true;
            result.killed = child->killed;
        }
        boost::asio::post(ioc_, [done = std::move(done), result] { done(result); });
        return;
    }

    // The input (a secret, at most a few KiB) goes first; then the output is read to its end.
    std::size_t written = 0;
    while (written < spec.input.size()) {
        const auto n = ::write(input[1], spec.input.data() + written, spec.input.size() - written);
        if (n <= 0) break;
        written += static_cast<std::size_t>(n);
    }
    close_fd(input[1]);

    const auto deadline = std::chrono::steady_clock::now() + spec.timeout;
    // One callback for every piece, not a copy per piece: it may keep state (a partial line).
    const auto on_output = spec.on_output
                               ? std::make_shared<std::function<void(const std::string&)>>(std::move(spec.on_output))
                               : nullptr;
    std::optional<std::chrono::steady_clock::time_point> hard_kill_at;
    char buffer[4096];
    int status = 0;
    bool reaped = false;
    for (;;) {
        int wait_ms = 200;
        if (spec.timeout.count() > 0) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0 && !result.timed_out) {
                result.timed_out = true;
                ::kill(pid, SIGKILL);
            }
            wait_ms = static_cast<int>(std::clamp<long long>(left.count(), 0, 200));
        }
        {
            std::lock_guard child_lock{child->mutex};
            if (child->killed && !hard_kill_at) hard_kill_at = std::chrono::steady_clock::now() + std::chrono::seconds{5};
        }
        if (hard_kill_at && std::chrono::steady_clock::now() >= *hard_kill_at) ::kill(pid, SIGKILL);
        pollfd fd{output[0], POLLIN, 0};
        const int ready = ::poll(&fd, 1, wait_ms);
        if (ready < 0 && errno != EINTR) break;
        if (ready <= 0) {
            // A process that left a child holding the pipe ends when it exits itself.
            if (::waitpid(pid, &status, WNOHANG) == pid) {
                reaped = true;
                break;
            }
            continue;
        }
        const auto n = ::read(output[0], buffer, sizeof buffer);
        if (n <= 0) break; // end of output: the process (and whatever kept the pipe) is done
        result.output.append(buffer, static_cast<std::size_t>(n));
        if (on_output) {
            boost::asio::post(ioc_, [on_output, piece = std::string(buffer, static_cast<std::size_t>(n))] {
                (*on_output)(piece);
            });
        }
        if (result.output.size() > max_output) result.output.erase(0, result.output.size() - max_output);
    }
    close_fd(output[0]);
    while (!reaped && ::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    {
        std::lock_guard child_lock{child->mutex};
        child->done = true;
        result.killed = child->killed;
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    boost::asio::post(ioc_, [done = std::move(done), result = std::move(result)] { done(result); });
}

} // namespace macvmorx::agent
