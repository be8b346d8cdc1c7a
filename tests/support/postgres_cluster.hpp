#pragma once

// A real PostgreSQL (Debian's `postgresql` package), made for the test run in a temporary
// folder with initdb and run with pg_ctl on a free loopback port, then stopped and removed. As
// root it runs as the `postgres` user (PostgreSQL refuses to run as root). The server trusts
// local connections of the user `macvmorx`: no password.

#include "daemon_process.hpp"
#include "free_port.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace macvmorx::testing {

class PostgresCluster {
public:
    PostgresCluster() {
        bin_ = find_bin_directory();
        static std::atomic<int> clusters{0};
        folder_ = std::filesystem::temp_directory_path() /
                  ("macvmorx-postgres-" + std::to_string(::getpid()) + "-" + std::to_string(++clusters));
        std::filesystem::remove_all(folder_);
        std::filesystem::create_directories(folder_);
        if (::geteuid() == 0) {
            const passwd* user = ::getpwnam("postgres");
            if (user == nullptr) throw std::runtime_error("running as root, but there is no postgres user to run PostgreSQL");
            if (::chown(folder_.c_str(), user->pw_uid, user->pw_gid) != 0) throw std::runtime_error("chown " + folder_.string());
        }
        copy_template();
        port_ = free_loopback_port();
        start();
    }

    ~PostgresCluster() {
        try {
            run({bin_ + "/pg_ctl", "-D", data(), "-m", "immediate", "-w", "stop"}, /*may_fail=*/true);
        } catch (...) {
        }
        std::error_code ignored;
        std::filesystem::remove_all(folder_, ignored);
    }

    PostgresCluster(const PostgresCluster&) = delete;
    PostgresCluster& operator=(const PostgresCluster&) = delete;

    std::uint16_t port() const { return port_; }
    std::string url(const std::string& database) const {
        return "postgresql://macvmorx@127.0.0.1:" + std::to_string(port_) + "/" + database;
    }

    // A new, empty database; its URL.
    std::string create_database() {
        const std::string name = "fleet" + std::to_string(++databases_);
        run({bin_ + "/createdb", "-h", "127.0.0.1", "-p", std::to_string(port_), "-U", "macvmorx", name});
        return url(name);
    }

    // pg_ctl start -w: returns once the server takes connections.
    void start() {
        run({bin_ + "/pg_ctl", "-D", data(), "-l", (folder_ / "server.log").string(), "-w", "-o",
             "-p " + std::to_string(port_) + " -k " + folder_.string() +
                 " -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
             "start"});
    }

    // pg_ctl stop -m fast: open connections are ended, as when the database is restarted.
    void stop() { run({bin_ + "/pg_ctl", "-D", data(), "-m", "fast", "-w", "stop"}); }

    std::string log() const {
        std::ifstream file{folder_ / "server.log"};
        return {std::istreambuf_iterator<char>{file}, {}};
    }

private:
    std::string data() const { return (folder_ / "data").string(); }

    // initdb takes a second or more, and most test processes start a cluster of their own: the
    // first makes a template (once per PostgreSQL version), and every cluster is a copy of it.
    void copy_template() const {
        std::string version = bin_;
        std::replace(version.begin(), version.end(), '/', '_');
        const auto root = std::filesystem::temp_directory_path();
        const auto template_dir = root / ("macvmorx-postgres-template-" + std::to_string(::geteuid()) + version);
        if (!std::filesystem::exists(template_dir / "PG_VERSION")) {
            // Made beside it and renamed into place: a process starting at the same time sees
            // either no template or a whole one.
            const auto making = root / ("macvmorx-postgres-template-" + std::to_string(::getpid()));
            std::filesystem::remove_all(making);
            run({bin_ + "/initdb", "-D", making.string(), "-A", "trust", "-U", "macvmorx", "--no-sync", "-E", "UTF8"});
            std::error_code lost_the_race;
            std::filesystem::rename(making, template_dir, lost_the_race);
            if (lost_the_race) std::filesystem::remove_all(making, lost_the_race);
        }
        // cp -a keeps the owner (postgres when root) and the modes PostgreSQL insists on.
        run({"/bin/cp", "-a", template_dir.string(), data()});
    }

    static std::string find_bin_directory() {
        // Debian keeps the server's programs out of PATH, under its major version.
        const std::filesystem::path root{"/usr/lib/postgresql"};
        std::string found;
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator{root, ec}) {
            const auto bin = entry.path() / "bin";
            if (std::filesystem::exists(bin / "initdb") && bin.string() > found) found = bin.string();
        }
        if (found.empty()) {
            throw std::runtime_error("PostgreSQL's initdb is not installed (Debian: apt-get install postgresql; "
                                     "scripts/install-deps does)");
        }
        return found;
    }

    // Runs a PostgreSQL program to its end (as the postgres user when root), from a folder that
    // user may enter.
    void run(std::vector<std::string> command, bool may_fail = false) const {
        std::string line = "cd " + folder_.string() + " && exec";
        for (const auto& part : command) line += " '" + part + "'";
        std::vector<std::string> arguments;
        std::string binary;
        if (::geteuid() == 0) {
            binary = "/usr/sbin/runuser";
            arguments = {"-u", "postgres", "--", "/bin/sh", "-c", line};
        } else {
            binary = "/bin/sh";
            arguments = {"-c", line};
        }
        DaemonProcess process{binary, arguments};
        const auto status = process.wait_for_exit(std::chrono::seconds{60});
        if (!may_fail && status != 0) {
            throw std::runtime_error(command.front() + " failed (" + (status ? std::to_string(*status) : "timeout") +
                                     "): " + process.output());
        }
    }

    std::string bin_;
    std::filesystem::path folder_;
    std::uint16_t port_ = 0;
    int databases_ = 0;
};

// One PostgreSQL for the whole test run, started when a test first asks; each test makes a
// database of its own in it (create_database).
inline PostgresCluster& shared_postgres() {
    static PostgresCluster cluster;
    return cluster;
}

} // namespace macvmorx::testing
