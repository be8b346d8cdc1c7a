#include "macvmorx/agent/process_runner.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <string_view>
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

std::string last_line(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (const auto newline = text.rfind('\n'); newline != std::string::npos) text = text.substr(newline + 1);
    return text;
}

// The command's whole process group (it leads one), or the command alone if the group is gone.
void signal_group(pid_t pid, int number) {
    if (::kill(-pid, number) != 0) ::kill(pid, number);
}

// The agent's environment with `extra` ("NAME=value") added, replacing entries of the same names.
std::vector<std::string> environment_with(const std::vector<std::string>& extra) {
    std::vector<std::string> result;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string_view text{*entry};
        const auto name = text.substr(0, text.find('=') + 1);
        const bool replaced = std::any_of(extra.begin(), extra.end(), [&](const std::string& e) { return e.starts_with(name); });
        if (!replaced) result.emplace_back(text);
    }
    result.insert(result.end(), extra.begin(), extra.end());
    return result;
}

// The last max_output bytes of a file.
std::string tail_of(const std::string& path) {
    std::ifstream in{path, std::ios::binary | std::ios::ate};
    if (!in) return {};
    const auto size = static_cast<std::size_t>(in.tellg());
    const std::size_t start = size > max_output ? size - max_output : 0;
    in.seekg(static_cast<std::streamoff>(start));
    std::string text(size - start, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    return text;
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
    // The last line says most about what went wrong; errors say more than output.
    const std::string last = last_line(errors).empty() ? last_line(output) : last_line(errors);
    if (!last.empty()) text += ": " + last.substr(0, 300);
    return text;
}

struct ProcessRunner::Child {
    std::uint64_t handle = 0;
    std::mutex mutex;
    pid_t pid = -1;
    bool killed = false;
    bool done = false;            // set by the waiting thread as its last step before posting the result
    bool outlives_agent = false;  // left running when the runner is destroyed
    std::thread waiter;           // joined once done (by a later start) or at destruction
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
            if (child->outlives_agent) continue; // its waiting thread lets go of it
            if (child->pid > 0 && !child->done) signal_group(child->pid, SIGKILL);
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
    child->outlives_agent = spec.outlives_agent;
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
    if (child->pid > 0) signal_group(child->pid, SIGTERM);
}

void ProcessRunner::run(std::shared_ptr<Child> child, ProcessSpec spec, Done done) {
    ProcessResult result;
    const auto finish = [&](ProcessResult finished) {
        {
            std::lock_guard child_lock{child->mutex};
            child->done = true;
            finished.killed = child->killed;
        }
        boost::asio::post(ioc_, [done = std::move(done), finished = std::move(finished)] { done(finished); });
    };
    int input[2] = {-1, -1};
    int output[2] = {-1, -1};
    int errors[2] = {-1, -1};
    int file = -1;
    const bool to_file = !spec.output_file.empty();
    bool opened = !spec.argv.empty() && cloexec_pipe(input) == 0;
    if (opened && to_file) {
        file = ::open(spec.output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        opened = file >= 0;
    } else if (opened) {
        opened = cloexec_pipe(output) == 0 && cloexec_pipe(errors) == 0;
    }
    if (!opened) {
        for (int* fd : {&input[0], &input[1], &output[0], &output[1], &errors[0], &errors[1], &file}) close_fd(*fd);
        result.output = spec.argv.empty() ? "cannot start a process" : "cannot start a process: " + std::string{std::strerror(errno)};
        return finish(std::move(result));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, input[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, to_file ? file : output[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, to_file ? file : errors[1], STDERR_FILENO);
    // Nothing else of the agent's leaks into the child (a long-lived `tart run` would keep it).
#ifndef __APPLE__
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif
    // The agent blocks SIGTERM and SIGINT in its threads and ignores SIGPIPE: a child starts
    // with neither, so that it can be stopped and behaves as from a shell. It leads a process
    // group of its own (see the class comment).
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attributes, &none);
    // The agent may itself have been started with SIGINT ignored (in a shell's background):
    // `tart stop` signals SIGINT, and a child must not inherit that.
    sigset_t defaults;
    sigemptyset(&defaults);
    for (const int number : {SIGPIPE, SIGINT, SIGTERM, SIGHUP}) sigaddset(&defaults, number);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    posix_spawnattr_setpgroup(&attributes, 0);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP;
#ifdef __APPLE__
    // macOS's way of closing everything the file actions do not name.
    flags |= POSIX_SPAWN_CLOEXEC_DEFAULT;
#endif
    posix_spawnattr_setflags(&attributes, flags);
    std::vector<char*> argv;
    for (auto& arg : spec.argv) argv.push_back(arg.data());
    argv.push_back(nullptr);
    std::vector<std::string> environment = environment_with(spec.environment);
    std::vector<char*> envp;
    for (auto& entry : environment) envp.push_back(entry.data());
    envp.push_back(nullptr);
    pid_t pid = -1;
    int spawned = 0;
    {
        std::lock_guard child_lock{child->mutex};
        // posix_spawnp looks the program up in PATH, as a shell would, but runs no shell.
        // A kill that came before the spawn stops the command from starting at all.
        spawned = stopping_ || child->killed ? ECANCELED
                                             : posix_spawnp(&pid, argv[0], &actions, &attributes, argv.data(), envp.data());
        child->pid = spawned == 0 ? pid : -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    close_fd(input[0]);
    close_fd(output[1]);
    close_fd(errors[1]);
    close_fd(file);
    if (spawned != 0) {
        close_fd(input[1]);
        close_fd(output[0]);
        close_fd(errors[0]);
        result.output = spec.argv[0] + ": " + std::strerror(spawned);
        return finish(std::move(result));
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
        if (stopping_ && spec.outlives_agent) {
            // The agent stops and this command goes on: let go of it unreaped (it is adopted
            // by launchd, or init, when the agent exits) and report nothing.
            close_fd(output[0]);
            close_fd(errors[0]);
            std::lock_guard child_lock{child->mutex};
            child->done = true;
            return;
        }
        int wait_ms = 200;
        if (spec.timeout.count() > 0) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0 && !result.timed_out) {
                result.timed_out = true;
                signal_group(pid, SIGKILL);
            }
            wait_ms = static_cast<int>(std::clamp<long long>(left.count(), 0, 200));
        }
        {
            std::lock_guard child_lock{child->mutex};
            if (child->killed && !hard_kill_at) hard_kill_at = std::chrono::steady_clock::now() + std::chrono::seconds{5};
        }
        if (hard_kill_at && std::chrono::steady_clock::now() >= *hard_kill_at) signal_group(pid, SIGKILL);
        pollfd fds[2] = {{output[0], POLLIN, 0}, {errors[0], POLLIN, 0}};
        const int ready = ::poll(fds, 2, wait_ms); // with no pipe open, a plain wait
        if (ready < 0 && errno != EINTR) break;
        if (ready <= 0) {
            // A process that left a child holding the pipes ends when it exits itself.
            if (::waitpid(pid, &status, WNOHANG) == pid) {
                reaped = true;
                break;
            }
            continue;
        }
        for (int stream = 0; stream < 2; ++stream) {
            if ((fds[stream].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
            int& fd = stream == 0 ? output[0] : errors[0];
            const auto n = ::read(fd, buffer, sizeof buffer);
            if (n <= 0) {
                close_fd(fd); // its end: the process (and whatever kept the pipe) closed it
                continue;
            }
            std::string& text = stream == 0 ? result.output : result.errors;
            text.append(buffer, static_cast<std::size_t>(n));
            if (stream == 0 && on_output) {
                boost::asio::post(ioc_, [on_output, piece = std::string(buffer, static_cast<std::size_t>(n))] {
                    (*on_output)(piece);
                });
            }
            if (text.size() > max_output) text.erase(0, text.size() - max_output);
        }
        if (!to_file && output[0] < 0 && errors[0] < 0) break;
    }
    close_fd(output[0]);
    close_fd(errors[0]);
    while (!reaped && ::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (to_file) result.output = tail_of(spec.output_file);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    finish(std::move(result));
}

} // namespace macvmorx::agent
