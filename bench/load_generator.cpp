// Load generator for macvmorx (and the null server it is compared with).
//
// Keep-alive HTTP/1.1 connections driven by Beast on io_contexts of their own (one per client
// thread). Connections play one of three roles:
//   heartbeat  POST /api/heartbeat for K distinct nodes, round robin; closed loop
//              (saturation) or open loop at a fixed total rate, where latency is measured from
//              the time the request was due, so a stalled server is not hidden (coordinated
//              omission, as wrk2 does it);
//   list       GET /api/nodes one after another; latency and body size;
//   schedule   POST /api/schedule-vm, then DELETE /api/vms/{vmId} of the VM it got (untimed),
//              so the fleet's slots are not used up by the benchmark.
//
// A run ends when every role given a count has done it, else after the warm-up plus the
// duration. Only requests sent after the warm-up and answered before the end are counted.
// Each role's figures are printed for people and once more as one `RESULT key=value ...`
// line for scripts.

#include "fleet_workload.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Options {
    std::string host = "127.0.0.1";
    std::string port = "8080";
    std::size_t nodes = 10'000;          // distinct node ids
    std::size_t connections = 32;        // heartbeat connections
    std::size_t list_connections = 0;    // GET /api/nodes connections
    std::size_t schedule_connections = 0;
    double rate = 0;                     // total heartbeats per second; 0: as fast as possible
    double duration = 10;                // seconds measured, after the warm-up
    double warmup = 2;                   // seconds not measured
    std::size_t heartbeat_count = 0;     // stop after this many heartbeats (0: no limit)
    std::size_t list_count = 0;          // stop after this many listings (0: no limit)
    std::size_t schedule_count = 0;      // stop after this many placements (0: no limit)
    unsigned threads = 1;
    int max_vms = 2;                     // node i reports i % (max_vms + 1) VMs
    std::string label = "run";
    int server_pid = 0; // with it, the server's CPU time per answer is measured too
};

[[noreturn]] void usage(const char* message) {
    std::fprintf(stderr,
                 "error: %s\n"
                 "usage: load_generator --port P [--host 127.0.0.1] [--nodes K] [--connections C]\n"
                 "         [--rate R] [--duration S] [--warmup S] [--heartbeats N] [--threads T]\n"
                 "         [--list-connections L] [--lists N] [--schedule-connections S] [--schedules N]\n"
                 "         [--max-vms 0..2] [--label NAME] [--server-pid PID]\n"
                 "  populate the fleet once:   --heartbeats K --nodes K --warmup 0\n"
                 "  saturation:                --nodes K --connections 32\n"
                 "  fixed rate:                --nodes K --connections 32 --rate 20000\n"
                 "  node listing:              --connections 0 --list-connections 1 --lists 20\n"
                 "  placement under heartbeats: --rate 10000 --schedule-connections 4\n",
                 message);
    std::exit(2);
}

Options parse_options(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (i + 1 >= argc) usage("every flag takes a value");
        const char* value = argv[++i];
        const auto number = [&] { return std::strtod(value, nullptr); };
        const auto count = [&] { return static_cast<std::size_t>(std::strtoull(value, nullptr, 10)); };
        if (flag == "--host") options.host = value;
        else if (flag == "--port") options.port = value;
        else if (flag == "--nodes") options.nodes = count();
        else if (flag == "--connections") options.connections = count();
        else if (flag == "--list-connections") options.list_connections = count();
        else if (flag == "--schedule-connections") options.schedule_connections = count();
        else if (flag == "--rate") options.rate = number();
        else if (flag == "--duration") options.duration = number();
        else if (flag == "--warmup") options.warmup = number();
        else if (flag == "--heartbeats") options.heartbeat_count = count();
        else if (flag == "--lists") options.list_count = count();
        else if (flag == "--schedules") options.schedule_count = count();
        else if (flag == "--threads") options.threads = static_cast<unsigned>(count());
        else if (flag == "--max-vms") options.max_vms = static_cast<int>(count());
        else if (flag == "--label") options.label = value;
        else if (flag == "--server-pid") options.server_pid = static_cast<int>(std::strtol(value, nullptr, 10));
        else usage("unknown flag");
    }
    if (options.nodes == 0) usage("--nodes must be at least 1");
    if (options.threads == 0) usage("--threads must be at least 1");
    if (options.max_vms < 0 || options.max_vms > 2) usage("--max-vms is 0, 1 or 2");
    if (options.connections + options.list_connections + options.schedule_connections == 0) {
        usage("no connections");
    }
    return options;
}

// ---------------------------------------------------------------------------------------------
// What is sent

using macvmorx::bench::image_count;
using macvmorx::bench::image_pool;

// One node's heartbeat request, headers included; `cpu_offset` locates cpuUsagePercent.
struct HeartbeatRequest {
    std::string text;
    std::size_t cpu_offset = 0;
};

HeartbeatRequest make_heartbeat(std::size_t node, int max_vms, const std::string& host) {
    const auto body = macvmorx::bench::heartbeat_body(node, max_vms);
    HeartbeatRequest request;
    request.text = "POST /api/heartbeat HTTP/1.1\r\nHost: " + host +
                   "\r\nUser-Agent: macvmorx-agent/0.1\r\nContent-Type: application/json\r\nContent-Length: " +
                   std::to_string(body.json.size()) + "\r\n\r\n";
    request.cpu_offset = request.text.size() + body.cpu_offset;
    request.text += body.json;
    return request;
}

std::string make_get(std::string_view target, const std::string& host) {
    return "GET " + std::string(target) + " HTTP/1.1\r\nHost: " + host + "\r\nAccept: application/json\r\n\r\n";
}

std::string make_schedule(std::size_t image, const std::string& host) {
    const std::string body = R"({"imageName":")" + std::string(image_pool[image % image_count]) + R"("})";
    return "POST /api/schedule-vm HTTP/1.1\r\nHost: " + host +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
           body;
}

std::string make_delete(std::string_view vm_id, const std::string& host) {
    return "DELETE /api/vms/" + std::string(vm_id) + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
}

// ---------------------------------------------------------------------------------------------
// What is measured

enum class Role { heartbeat, list, schedule };
constexpr const char* role_names[] = {"heartbeat", "list", "schedule"};

struct RoleStats {
    std::vector<std::int64_t> latencies_ns; // answers in the measured window
    std::uint64_t bytes = 0;                // body bytes of those answers
    std::uint64_t errors = 0;               // transport errors and unexpected statuses
    std::uint64_t unavailable = 0;          // 503 (no capacity) answers
    std::uint64_t sent = 0;
};

// Everything one client thread owns; no locks, merged after the threads are joined.
struct Worker {
    net::io_context ioc{1};
    RoleStats stats[3];
    std::vector<std::size_t> nodes; // the node ids this worker sends heartbeats for
    std::size_t next_node = 0;
    std::uint32_t random_state = 12345;
};

struct Run {
    Options options;
    tcp::resolver::results_type endpoints;
    std::vector<HeartbeatRequest> heartbeats; // one per node, shared read-only... except cpu patch
    std::string list_request;
    std::vector<std::string> schedule_requests;
    Clock::time_point start;
    Clock::time_point measure_from;
    Clock::time_point end;
    // With a count: how many requests of each role are still to be sent (shared by the threads).
    std::atomic<std::int64_t> budget[3] = {0, 0, 0};
    std::atomic<std::size_t> open_counted_connections{0};
    std::atomic<bool> stopping{false};

    bool counted(Role role) const {
        switch (role) {
        case Role::heartbeat: return options.heartbeat_count > 0;
        case Role::list: return options.list_count > 0;
        case Role::schedule: return options.schedule_count > 0;
        }
        return false;
    }
};

class Connection : public std::enable_shared_from_this<Connection> {
public:
    Connection(Run& run, Worker& worker, Role role, double interval_seconds, Clock::time_point first_due)
        : run_{run}, worker_{worker}, role_{role}, socket_{worker.ioc}, timer_{worker.ioc},
          interval_{std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(interval_seconds))},
          due_{first_due} {}

    void start() {
        // Beast reads at most what the buffer has room for: with the default small buffer a
        // multi-megabyte listing arrives in thousands of reads, and the client, not the server,
        // would set the latency.
        if (role_ == Role::list) buffer_.reserve(1 << 20);
        connect();
    }

private:
    void connect() {
        beast::error_code ec;
        socket_.close(ec);
        net::async_connect(socket_, run_.endpoints, [self = shared_from_this()](beast::error_code error, const tcp::endpoint&) {
            if (error) {
                if (self->stats().errors++ == 0) std::fprintf(stderr, "connect: %s\n", error.message().c_str());
                return self->finish();
            }
            self->socket_.set_option(tcp::no_delay{true});
            self->next();
        });
    }

    RoleStats& stats() { return worker_.stats[static_cast<int>(role_)]; }

    // Takes one request of this role's count; false when the role has done its count.
    bool take_budget() {
        if (!run_.counted(role_)) return true;
        return run_.budget[static_cast<int>(role_)].fetch_sub(1, std::memory_order_relaxed) > 0;
    }

    void finish() {
        if (finished_) return;
        finished_ = true;
        beast::error_code ec;
        socket_.shutdown(tcp::socket::shutdown_both, ec);
        socket_.close(ec);
        timer_.cancel();
        if (run_.counted(role_) && run_.open_counted_connections.fetch_sub(1) == 1) run_.stopping = true;
    }

    void next() {
        if (run_.stopping || Clock::now() >= run_.end || !take_budget()) return finish();
        if (interval_.count() > 0) {
            const auto now = Clock::now();
            if (due_ > now) {
                timer_.expires_at(due_);
                return timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
                    if (ec) return self->finish();
                    self->send();
                });
            }
        }
        send();
    }

    void send() {
        const auto now = Clock::now();
        // Open loop: latency counts from when the request was due, even if the connection was
        // still busy with the previous answer then.
        sent_at_ = interval_.count() > 0 ? due_ : now;
        if (interval_.count() > 0) due_ += interval_;
        std::string_view request;
        switch (role_) {
        case Role::heartbeat: {
            const std::size_t node = worker_.nodes[worker_.next_node];
            if (++worker_.next_node == worker_.nodes.size()) worker_.next_node = 0;
            HeartbeatRequest& heartbeat = run_.heartbeats[node];
            // A new CPU figure every time, as a real agent reports: 05.00 to 94.99.
            worker_.random_state = worker_.random_state * 1664525u + 1013904223u;
            const unsigned cpu = 500 + (worker_.random_state >> 8) % 9000;
            macvmorx::bench::patch_cpu(heartbeat.text.data() + heartbeat.cpu_offset, cpu);
            request = heartbeat.text;
            break;
        }
        case Role::list:
            request = run_.list_request;
            break;
        case Role::schedule:
            worker_.random_state = worker_.random_state * 1664525u + 1013904223u;
            request = run_.schedule_requests[(worker_.random_state >> 8) % run_.schedule_requests.size()];
            break;
        }
        ++stats().sent;
        write(request, false);
    }

    void write(std::string_view request, bool cleanup) {
        net::async_write(socket_, net::buffer(request.data(), request.size()),
                         [self = shared_from_this(), cleanup](beast::error_code ec, std::size_t) {
                             if (ec) return self->on_error();
                             self->read(cleanup);
                         });
    }

    void read(bool cleanup) {
        parser_.emplace();
        parser_->body_limit(1ULL << 30);
        bhttp::async_read(socket_, buffer_, *parser_, [self = shared_from_this(), cleanup](beast::error_code ec, std::size_t) {
            if (ec) return self->on_error();
            if (cleanup) return self->after_answer(self->parser_->get().keep_alive());
            self->on_answer();
        });
    }

    void on_answer() {
        const auto done = Clock::now();
        auto& response = parser_->get();
        const int status = static_cast<int>(response.result_int());
        RoleStats& role_stats = stats();
        if (sent_at_ >= run_.measure_from && done <= run_.end) {
            role_stats.latencies_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(done - sent_at_).count());
            role_stats.bytes += response.body().size();
        }
        if (status == 503) {
            ++role_stats.unavailable;
        } else if (status != 200) {
            if (role_stats.errors++ < 3) {
                std::fprintf(stderr, "%s: status %d: %.200s\n", role_names[static_cast<int>(role_)], status,
                             response.body().c_str());
            }
        }
        const bool keep_alive = response.keep_alive();
        if (role_ == Role::schedule && status == 200) {
            // Give the slot back, so the run measures placements and not an ever fuller fleet.
            const std::string& body = response.body();
            constexpr std::string_view key = R"("vmId":")";
            const auto at = body.find(key);
            if (at != std::string::npos) {
                const auto from = at + key.size();
                const auto to = body.find('"', from);
                cleanup_request_ = make_delete(std::string_view(body).substr(from, to - from), run_.options.host);
                if (!keep_alive) {
                    // Unusual; the cleanup is skipped rather than reconnecting twice.
                    return after_answer(false);
                }
                return write(cleanup_request_, true);
            }
        }
        after_answer(keep_alive);
    }

    void after_answer(bool keep_alive) {
        if (!keep_alive) return connect();
        next();
    }

    void on_error() {
        if (run_.stopping || Clock::now() >= run_.end) return finish();
        ++stats().errors;
        if (++reconnects_ > 100) return finish();
        connect();
    }

    Run& run_;
    Worker& worker_;
    Role role_;
    tcp::socket socket_;
    net::steady_timer timer_;
    Clock::duration interval_;
    Clock::time_point due_;
    Clock::time_point sent_at_;
    beast::flat_buffer buffer_;
    std::optional<bhttp::response_parser<bhttp::string_body>> parser_;
    std::string cleanup_request_;
    int reconnects_ = 0;
    bool finished_ = false;
};

// CPU seconds (user + system) a process has used, from /proc/PID/stat; -1 if unknown.
double process_cpu_seconds(int pid) {
    const std::string path = "/proc/" + std::to_string(pid) + "/stat";
    std::FILE* file = std::fopen(path.c_str(), "r");
    if (file == nullptr) return -1;
    char text[1024];
    const std::size_t size = std::fread(text, 1, sizeof text - 1, file);
    std::fclose(file);
    text[size] = '\0';
    // Fields after the command name, which is in parentheses and may hold spaces.
    const char* rest = std::strrchr(text, ')');
    if (rest == nullptr) return -1;
    unsigned long long utime = 0, stime = 0;
    if (std::sscanf(rest + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) return -1;
    return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double own_cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double percentile(const std::vector<std::int64_t>& sorted, double share) {
    if (sorted.empty()) return 0;
    const auto index = static_cast<std::size_t>(share * static_cast<double>(sorted.size() - 1) + 0.5);
    return static_cast<double>(sorted[std::min(index, sorted.size() - 1)]) / 1000.0;
}

} // namespace

int main(int argc, char** argv) {
    Run run;
    run.options = parse_options(argc, argv);
    const Options& options = run.options;

    {
        net::io_context resolver_context;
        tcp::resolver resolver{resolver_context};
        run.endpoints = resolver.resolve(options.host, options.port);
    }
    // A heartbeat request per node, built before the clock starts.
    const bool heartbeats = options.connections > 0;
    if (heartbeats) {
        run.heartbeats.reserve(options.nodes);
        for (std::size_t node = 0; node < options.nodes; ++node) {
            run.heartbeats.push_back(make_heartbeat(node, options.max_vms, options.host));
        }
    }
    run.list_request = make_get("/api/nodes", options.host);
    for (std::size_t image = 0; image < image_count; ++image) {
        run.schedule_requests.push_back(make_schedule(image, options.host));
    }

    std::vector<std::unique_ptr<Worker>> workers;
    for (unsigned t = 0; t < options.threads; ++t) workers.push_back(std::make_unique<Worker>());
    // Nodes and budgets are split among the threads so that each node's heartbeats come from
    // one thread (no two threads patch the same request).
    for (std::size_t node = 0; node < options.nodes; ++node) workers[node % options.threads]->nodes.push_back(node);
    const auto share = [&](std::size_t total, unsigned t) {
        return total / options.threads + (t < total % options.threads ? 1 : 0);
    };

    run.start = Clock::now();
    run.measure_from = run.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.warmup));
    const bool counted_run = options.heartbeat_count > 0 || options.list_count > 0 || options.schedule_count > 0;
    // A counted run has no time limit but a generous safety stop.
    const double seconds = counted_run ? 3600 : options.warmup + options.duration;
    run.end = run.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));

    const double interval = options.rate > 0 ? static_cast<double>(options.connections) / options.rate : 0;
    run.budget[0] = static_cast<std::int64_t>(options.heartbeat_count);
    run.budget[1] = static_cast<std::int64_t>(options.list_count);
    run.budget[2] = static_cast<std::int64_t>(options.schedule_count);
    std::vector<std::shared_ptr<Connection>> connections;
    for (unsigned t = 0; t < options.threads; ++t) {
        Worker& worker = *workers[t];
        worker.random_state = 12345 + t * 7919;
        const auto spawn = [&](Role role, std::size_t count, double role_interval) {
            const std::size_t mine = share(count, t);
            if (run.counted(role)) run.open_counted_connections += mine;
            for (std::size_t c = 0; c < mine; ++c) {
                // Spread the first sends of an open-loop role over one interval.
                const auto offset = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                    role_interval * static_cast<double>(c * options.threads + t) /
                    static_cast<double>(std::max<std::size_t>(count, 1))));
                connections.push_back(std::make_shared<Connection>(run, worker, role, role_interval, run.start + offset));
            }
        };
        if (heartbeats && !worker.nodes.empty()) spawn(Role::heartbeat, options.connections, interval);
        spawn(Role::list, options.list_connections, 0);
        spawn(Role::schedule, options.schedule_connections, 0);
    }
    for (auto& connection : connections) connection->start();
    connections.clear();

    std::vector<std::thread> threads;
    for (auto& worker : workers) threads.emplace_back([&w = *worker] { w.ioc.run(); });
    // CPU used by the server and by this process over the measured window.
    std::this_thread::sleep_until(run.measure_from);
    const double server_cpu_start = options.server_pid > 0 ? process_cpu_seconds(options.server_pid) : -1;
    const double own_cpu_start = own_cpu_seconds();
    for (auto& thread : threads) thread.join();
    const auto finished = Clock::now();
    const double server_cpu =
        server_cpu_start >= 0 ? process_cpu_seconds(options.server_pid) - server_cpu_start : -1;
    const double own_cpu = own_cpu_seconds() - own_cpu_start;

    const double window =
        std::chrono::duration<double>(std::min(finished, run.end) - std::max(run.measure_from, run.start)).count();
    bool any_answer = false;
    std::size_t all_answers = 0;
    for (int role = 0; role < 3; ++role) {
        RoleStats total;
        for (auto& worker : workers) {
            auto& stats = worker->stats[role];
            total.latencies_ns.insert(total.latencies_ns.end(), stats.latencies_ns.begin(), stats.latencies_ns.end());
            total.bytes += stats.bytes;
            total.errors += stats.errors;
            total.unavailable += stats.unavailable;
            total.sent += stats.sent;
        }
        const std::size_t role_connections =
            role == 0 ? options.connections : role == 1 ? options.list_connections : options.schedule_connections;
        if (role_connections == 0) continue;
        any_answer = any_answer || !total.latencies_ns.empty();
        all_answers += total.latencies_ns.size();
        std::sort(total.latencies_ns.begin(), total.latencies_ns.end());
        const auto answered = total.latencies_ns.size();
        const double rps = window > 0 ? static_cast<double>(answered) / window : 0;
        const double mean_bytes = answered ? static_cast<double>(total.bytes) / static_cast<double>(answered) : 0;
        std::printf("%-10s %-9s %9zu answers in %.2fs = %10.0f/s  p50 %8.1fus  p99 %8.1fus  p99.9 %8.1fus  max "
                    "%9.1fus  body %.0fB  errors %" PRIu64 "  503s %" PRIu64 "\n",
                    options.label.c_str(), role_names[role], answered, window, rps, percentile(total.latencies_ns, 0.50),
                    percentile(total.latencies_ns, 0.99), percentile(total.latencies_ns, 0.999),
                    answered ? static_cast<double>(total.latencies_ns.back()) / 1000.0 : 0, mean_bytes, total.errors,
                    total.unavailable);
        std::printf("RESULT label=%s role=%s nodes=%zu connections=%zu rate=%.0f answers=%zu seconds=%.3f rps=%.1f "
                    "p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f body_bytes=%.0f errors=%" PRIu64
                    " unavailable=%" PRIu64 "\n",
                    options.label.c_str(), role_names[role], options.nodes,
                    role_connections,
                    role == 0 ? options.rate : 0.0, answered, window, rps, percentile(total.latencies_ns, 0.50),
                    percentile(total.latencies_ns, 0.99), percentile(total.latencies_ns, 0.999),
                    answered ? static_cast<double>(total.latencies_ns.back()) / 1000.0 : 0, mean_bytes, total.errors,
                    total.unavailable);
    }
    if (all_answers > 0) {
        // Per answer of every role in the window: the cost of one request, client and server.
        const double per_answer = 1e6 / static_cast<double>(all_answers);
        std::printf("%-10s cpu: load generator %.2f us/answer (%.0f%% of a core)", options.label.c_str(),
                    own_cpu * per_answer, 100 * own_cpu / window);
        if (server_cpu >= 0) {
            std::printf(", server %.2f us/answer (%.0f%% of a core)", server_cpu * per_answer, 100 * server_cpu / window);
        }
        std::printf("\nRESULT label=%s role=cpu answers=%zu client_us_per_answer=%.2f server_us_per_answer=%.2f\n",
                    options.label.c_str(), all_answers, own_cpu * per_answer, server_cpu >= 0 ? server_cpu * per_answer : -1.0);
    }
    std::fflush(stdout);
    if (!any_answer) {
        std::fprintf(stderr, "load_generator: no answer from %s:%s\n", options.host.c_str(), options.port.c_str());
        return 1;
    }
    return 0;
}
