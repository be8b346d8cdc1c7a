#pragma once

// Runs the macvmorx binary as a child process, as an operator would, and reads what it logs.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace macvmorx::testing {

class DaemonProcess {
public:
    // Starts `binary` with `arguments`; `environment` entries ("NAME=value") are added to ours,
    // replacing ours of the same names. With `own_process_group` it leads a process group of its
    // own, as launchd starts a job (launchd.plist(5)).
    DaemonProcess(const std::string& binary, const std::vector<std::string>& arguments,
                  const std::vector<std::string>& environment = {}, bool own_process_group = false) {
        int pipe_fds[2];
        if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
        posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);

        std::vector<std::string> argv_storage{binary};
        argv_storage.insert(argv_storage.end(), arguments.begin(), arguments.end());
        std::vector<char*> argv;
        for (auto& arg : argv_storage) argv.push_back(arg.data());
        argv.push_back(nullptr);

        std::vector<std::string> env_storage;
        for (char** entry = environ; *entry != nullptr; ++entry) {
            const std::string text{*entry};
            const std::string name = text.substr(0, text.find('=') + 1);
            const bool replaced = std::any_of(environment.begin(), environment.end(),
                                              [&name](const std::string& e) { return e.starts_with(name); });
            if (!replaced) env_storage.push_back(text);
        }
        env_storage.insert(env_storage.end(), environment.begin(), environment.end());
        std::vector<char*> envp;
        for (auto& entry : env_storage) envp.push_back(entry.data());
        envp.push_back(nullptr);

        posix_spawnattr_t attributes;
        posix_spawnattr_init(&attributes);
        if (own_process_group) {
            posix_spawnattr_setpgroup(&attributes, 0);
            posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
        }
        const int rc = posix_spawn(&pid_, binary.c_str(), &actions, &attributes, argv.data(), envp.data());
        posix_spawnattr_destroy(&attributes);
        posix_spawn_file_actions_destroy(&actions);
        ::close(pipe_fds[1]);
        if (rc != 0) {
            ::close(pipe_fds[0]);
            throw std::runtime_error("cannot start " + binary);
        }
        reader_ = std::thread([this, fd = pipe_fds[0]] {
            char buffer[4096];
            for (;;) {
                const auto got = ::read(fd, buffer, sizeof buffer);
                if (got <= 0) break;
                std::lock_guard lock{mutex_};
                output_.append(buffer, static_cast<std::size_t>(got));
            }
            ::close(fd);
        });
    }

    ~DaemonProcess() {
        if (!exit_status_) {
            ::kill(pid_, SIGKILL);
            wait_for_exit(std::chrono::seconds{5});
        }
        if (reader_.joinable()) reader_.join();
    }

    DaemonProcess(const DaemonProcess&) = delete;
    DaemonProcess& operator=(const DaemonProcess&) = delete;

    std::string output() const {
        std::lock_guard lock{mutex_};
        return output_;
    }

    // The port from the "listening on http://host:port" line, once it is logged.
    std::optional<std::uint16_t> wait_for_port(std::chrono::milliseconds limit = std::chrono::seconds{10}) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            const std::string text = output();
            const auto at = text.find("listening on http://");
            const auto colon = at == std::string::npos ? at : text.find(':', at + 20);
            const auto end = colon == std::string::npos ? colon : text.find_first_not_of("0123456789", colon + 1);
            if (end != std::string::npos && end > colon + 1) {
                return static_cast<std::uint16_t>(std::stoi(text.substr(colon + 1, end - colon - 1)));
            }
            if (exit_status_ || poll_exit()) return std::nullopt;
            std::this_thread::sleep_for(std::chrono::milliseconds{10});
        }
        return std::nullopt;
    }

    void signal(int number) { ::kill(pid_, number); }
    // To the process's whole group, as launchd ends a job that does not abandon its group.
    void signal_group(int number) { ::kill(-pid_, number); }
    pid_t pid() const { return pid_; }

    // The exit status (or 128 + signal), or nullopt if the process is still running at `limit`.
    std::optional<int> wait_for_exit(std::chrono::milliseconds limit) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!exit_status_) {
            if (poll_exit()) break;
            if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
            std::this_thread::sleep_for(std::chrono::milliseconds{5});
        }
        if (reader_.joinable()) reader_.join();
        return exit_status_;
    }

private:
    bool poll_exit() {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return true;
    }

    pid_t pid_ = 0;
    std::optional<int> exit_status_;
    mutable std::mutex mutex_;
    std::string output_;
    std::thread reader_;
};

} // namespace macvmorx::testing
