// Micro-benchmarks of the daemon's hot paths, in process, without sockets: heartbeat parsing
// (nlohmann, as shipped, and simdjson for comparison), heartbeat parse+apply, one scheduling
// decision, and the GET /api/nodes answer.

#include "fleet_workload.hpp"

#include "macvmorx/api/api_context.hpp"
#include "macvmorx/api/routes.hpp"
#include "macvmorx/base/clock.hpp"
#include "macvmorx/base/id_source.hpp"
#include "macvmorx/fleet/node_record.hpp"
#include "macvmorx/http/content_encoding.hpp"
#include "macvmorx/http/router.hpp"
#include "macvmorx/metrics/http_metrics.hpp"
#include "macvmorx/metrics/scrape.hpp"
#include "macvmorx/object_store/checksum.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"
#include "macvmorx/scheduling/scheduler.hpp"
#include "macvmorx/storage/durable_store.hpp"
#include "macvmorx/web/web_assets.hpp"
#include "macvmorx/protocol/heartbeat_json.hpp"

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <spdlog/spdlog.h>

#ifdef MACVMORX_BENCH_SIMDJSON
#include <simdjson.h>
#endif

#include <malloc.h>
#include <unistd.h>

#include <filesystem>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace macvmorx;

// A daemon's state without its sockets: orchestrator, router, and the fleet's heartbeats. The
// router counts and times every answer into HttpMetrics, as the daemon's does.
struct Fleet {
    ManualClock clock;
    SequentialIdSource ids;
    orchestrator::Orchestrator orchestrator{orchestrator::OrchestratorOptions{}, clock, ids};
    web::WebAssets web = web::WebAssets::embedded();
    api::ApiContext context{orchestrator, web};
    http::Router router = api::build_router(context);
    std::shared_ptr<prometheus::Registry> registry = metrics::make_registry();
    metrics::HttpMetrics http_metrics{router, *registry};
    std::vector<bench::HeartbeatBody> bodies;

    explicit Fleet(std::size_t nodes) {
        router.set_observer(&http_metrics);
        context.http_metrics = &http_metrics;
        bodies.reserve(nodes);
        for (std::size_t node = 0; node < nodes; ++node) {
            bodies.push_back(bench::heartbeat_body(node));
            orchestrator.record_heartbeat(protocol::parse_heartbeat(bodies.back().json));
        }
    }
};

// Fleets are built once per size and kept: building 100,000 nodes takes a while.
Fleet& fleet_of(std::size_t nodes) {
    static std::map<std::size_t, std::unique_ptr<Fleet>> fleets;
    auto& fleet = fleets[nodes];
    if (!fleet) fleet = std::make_unique<Fleet>(nodes);
    return *fleet;
}

// ---------------------------------------------------------------------------------------------
// Heartbeats

void BM_ParseHeartbeatNlohmann(benchmark::State& state) {
    const auto body = bench::heartbeat_body(1).json; // one VM, ~610 bytes
    for (auto _ : state) {
        auto heartbeat = protocol::parse_heartbeat(body);
        benchmark::DoNotOptimize(heartbeat);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ParseHeartbeatNlohmann);

#ifdef MACVMORX_BENCH_SIMDJSON
// The same heartbeat into the same struct with simdjson's On-Demand API, with the checks that
// matter for cost (types, ranges, node id characters) but not every message of the real parser.
protocol::Heartbeat parse_heartbeat_simdjson(simdjson::ondemand::parser& parser, const simdjson::padded_string& body) {
    using namespace simdjson;
    protocol::Heartbeat heartbeat;
    ondemand::document document = parser.iterate(body);
    ondemand::object object = document.get_object();
    const auto number = [](ondemand::value value, double low, double high) {
        const double result = value.get_double();
        if (result < low || result > high) throw std::out_of_range("number out of range");
        return result;
    };
    for (auto field : object) {
        const std::string_view key = field.unescaped_key();
        ondemand::value value = field.value();
        if (key == "nodeId") {
            heartbeat.node_id = std::string_view(value.get_string());
            protocol::check_node_id(heartbeat.node_id, "nodeId");
        } else if (key == "vmCount") {
            heartbeat.vm_count = static_cast<int>(static_cast<std::int64_t>(value.get_int64()));
        } else if (key == "vms") {
            for (ondemand::object vm : value.get_array()) {
                protocol::VmReport report;
                for (auto vm_field : vm) {
                    const std::string_view vm_key = vm_field.unescaped_key();
                    ondemand::value vm_value = vm_field.value();
                    if (vm_key == "vmId") report.vm_id = std::string_view(vm_value.get_string());
                    else if (vm_key == "imageName") report.image_name = std::string_view(vm_value.get_string());
                    else if (vm_key == "runtimeSeconds") report.runtime_seconds = vm_value.get_int64();
                    else if (vm_key == "vmHostname") report.vm_hostname = std::string_view(vm_value.get_string());
                    else if (vm_key == "vmIpAddress") report.vm_ip_address = std::string_view(vm_value.get_string());
                }
                heartbeat.vms.push_back(std::move(report));
            }
        } else if (key == "cpuUsagePercent") {
            heartbeat.cpu_usage_percent = number(value, 0, 100);
        } else if (key == "memoryUsageGB") {
            heartbeat.memory_usage_gb = number(value, 0, 1e6);
        } else if (key == "totalMemoryGB") {
            heartbeat.total_memory_gb = number(value, 0, 1e6);
        } else if (key == "diskUsageGB") {
            heartbeat.disk_usage_gb = number(value, 0, 1e6);
        } else if (key == "totalDiskGB") {
            heartbeat.total_disk_gb = number(value, 0, 1e6);
        } else if (key == "status") {
            heartbeat.status = std::string_view(value.get_string());
        } else if (key == "cachedImages") {
            for (std::string_view image : value.get_array()) heartbeat.cached_images.emplace_back(image);
        } else if (key == "labels") {
            for (auto label : value.get_object()) {
                protocol::Label parsed;
                parsed.key = std::string_view(label.unescaped_key());
                parsed.value = std::string_view(label.value().get_string());
                heartbeat.labels.push_back(std::move(parsed));
            }
            protocol::normalize(heartbeat.labels);
        }
    }
    return heartbeat;
}

void BM_ParseHeartbeatSimdjson(benchmark::State& state) {
    const auto body = bench::heartbeat_body(1).json;
    simdjson::ondemand::parser parser;
    {
        // Same content as the shipped parser produces, or the comparison means nothing.
        const simdjson::padded_string padded{body};
        const auto mine = parse_heartbeat_simdjson(parser, padded);
        const auto shipped = protocol::parse_heartbeat(body);
        if (mine.node_id != shipped.node_id || mine.vms.size() != shipped.vms.size() ||
            mine.cached_images != shipped.cached_images || mine.labels != shipped.labels ||
            mine.cpu_usage_percent != shipped.cpu_usage_percent) {
            state.SkipWithError("simdjson parse differs from protocol::parse_heartbeat");
            return;
        }
    }
    for (auto _ : state) {
        // The copy into a padded buffer is part of the cost: a request body has no padding.
        const simdjson::padded_string padded{body};
        auto heartbeat = parse_heartbeat_simdjson(parser, padded);
        benchmark::DoNotOptimize(heartbeat);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ParseHeartbeatSimdjson);
#endif

// Parse and apply (node store, scheduler, VM lifecycle), round robin over the fleet.
void BM_ParseAndApplyHeartbeat(benchmark::State& state) {
    Fleet& fleet = fleet_of(static_cast<std::size_t>(state.range(0)));
    std::size_t node = 0;
    unsigned cpu = 0;
    for (auto _ : state) {
        auto& body = fleet.bodies[node];
        bench::patch_cpu(body.json.data() + body.cpu_offset, cpu = (cpu + 3779) % 9000);
        auto outcome = fleet.orchestrator.record_heartbeat(protocol::parse_heartbeat(body.json));
        benchmark::DoNotOptimize(outcome);
        if (++node == fleet.bodies.size()) node = 0;
    }
}
BENCHMARK(BM_ParseAndApplyHeartbeat)->Arg(1'000)->Arg(10'000)->Arg(100'000);

// Apply only: the heartbeat is parsed outside the loop (a copy per iteration remains).
void BM_ApplyHeartbeat(benchmark::State& state) {
    Fleet& fleet = fleet_of(static_cast<std::size_t>(state.range(0)));
    std::vector<protocol::Heartbeat> parsed;
    for (std::size_t node = 0; node < std::min<std::size_t>(fleet.bodies.size(), 1000); ++node) {
        parsed.push_back(protocol::parse_heartbeat(fleet.bodies[node].json));
    }
    std::size_t node = 0;
    for (auto _ : state) {
        auto heartbeat = parsed[node];
        heartbeat.cpu_usage_percent = static_cast<double>((node * 37) % 100);
        auto outcome = fleet.orchestrator.record_heartbeat(std::move(heartbeat));
        benchmark::DoNotOptimize(outcome);
        if (++node == parsed.size()) node = 0;
    }
}
BENCHMARK(BM_ApplyHeartbeat)->Arg(10'000);

// The whole POST /api/heartbeat below the socket: router, handler, parse, apply, answer.
void BM_HeartbeatThroughRouter(benchmark::State& state) {
    Fleet& fleet = fleet_of(static_cast<std::size_t>(state.range(0)));
    std::size_t node = 0;
    for (auto _ : state) {
        http::Request request;
        request.method = http::Method::post;
        request.target = "/api/heartbeat";
        request.headers = {{"Host", "127.0.0.1"}, {"Content-Type", "application/json"}};
        request.body = fleet.bodies[node].json;
        auto response = fleet.router.handle(request);
        if (response.status != 200) state.SkipWithError("heartbeat refused");
        benchmark::DoNotOptimize(response);
        if (++node == fleet.bodies.size()) node = 0;
    }
}
BENCHMARK(BM_HeartbeatThroughRouter)->Arg(10'000);

// ---------------------------------------------------------------------------------------------
// Scheduling

constexpr std::string_view rare_image = "macos-rare-image"; // cached by 1% of the nodes
constexpr std::string_view cold_image = "macos-uncached-image";

// A scheduler that has observed 10,000 nodes as the load generator describes them.
scheduling::Scheduler& scheduler_of(std::size_t nodes) {
    static std::map<std::size_t, std::unique_ptr<scheduling::Scheduler>> schedulers;
    auto& scheduler = schedulers[nodes];
    if (scheduler) return *scheduler;
    scheduler = std::make_unique<scheduling::Scheduler>(scheduling::SchedulerOptions{});
    for (std::size_t node = 0; node < nodes; ++node) {
        auto record = std::make_shared<fleet::NodeRecord>();
        record->report = protocol::parse_heartbeat(bench::heartbeat_body(node).json);
        record->report.cpu_usage_percent = static_cast<double>((node * 7919) % 10000) / 100.0;
        if (node % 100 == 0) record->report.cached_images.emplace_back(rare_image);
        record->first_seen = record->last_seen = TimePoint{std::chrono::seconds{1'800'000'000}};
        scheduler->observe(std::move(record));
    }
    return *scheduler;
}

// One decision and the release of its reservation, so every iteration sees the same fleet.
void schedule_decision(benchmark::State& state, std::string_view image, protocol::Labels labels) {
    auto& scheduler = scheduler_of(static_cast<std::size_t>(state.range(0)));
    scheduling::PlacementRequest request;
    request.image_name = std::string(image);
    request.vm_id = "bench-vm";
    request.required_labels = std::move(labels);
    for (auto _ : state) {
        auto placement = scheduler.place(request);
        if (!placement) {
            state.SkipWithError("no placement");
            break;
        }
        scheduler.release(placement->node_id, placement->vm_id);
        benchmark::DoNotOptimize(placement);
    }
}

void BM_ScheduleImageCachedBy30Percent(benchmark::State& state) {
    schedule_decision(state, bench::image_pool[0], {});
}
void BM_ScheduleImageCachedBy1Percent(benchmark::State& state) { schedule_decision(state, rare_image, {}); }
void BM_ScheduleImageCachedByNone(benchmark::State& state) { schedule_decision(state, cold_image, {}); }
// A label 2.5% of the nodes carry: the decision skips candidates in rank order.
void BM_ScheduleWithRareLabel(benchmark::State& state) {
    schedule_decision(state, cold_image, {{"rack", "r7"}});
}
BENCHMARK(BM_ScheduleImageCachedBy30Percent)->Arg(10'000)->Arg(100'000);
BENCHMARK(BM_ScheduleImageCachedBy1Percent)->Arg(10'000);
BENCHMARK(BM_ScheduleImageCachedByNone)->Arg(10'000)->Arg(100'000);
BENCHMARK(BM_ScheduleWithRareLabel)->Arg(10'000);

// POST /api/schedule-vm below the socket (router, VM lifecycle, scheduler), then DELETE.
void BM_ScheduleVmThroughRouter(benchmark::State& state) {
    Fleet& fleet = fleet_of(static_cast<std::size_t>(state.range(0)));
    std::size_t image = 0;
    for (auto _ : state) {
        http::Request request;
        request.method = http::Method::post;
        request.target = "/api/schedule-vm";
        request.headers = {{"Host", "127.0.0.1"}, {"Content-Type", "application/json"}};
        request.body = R"({"imageName":")" + std::string(bench::image_pool[image]) + R"("})";
        auto response = fleet.router.handle(request);
        if (response.status != 200) {
            state.SkipWithError(("placement refused: " + std::to_string(response.status) + " " + response.body).c_str());
            break;
        }
        const auto at = response.body.find(R"("vmId":")") + 8;
        http::Request deletion;
        deletion.method = http::Method::del;
        deletion.target = "/api/vms/" + response.body.substr(at, response.body.find('"', at) - at);
        benchmark::DoNotOptimize(fleet.router.handle(deletion));
        if (++image == bench::image_count) image = 0;
    }
}
BENCHMARK(BM_ScheduleVmThroughRouter)->Arg(10'000)->Arg(100'000);

// The periodic sweep (offline monitor, VM deadlines) that runs every --monitor-interval under
// the lifecycle's lock, when nothing is due: its cost is a pause for every heartbeat.
void BM_SweepNothingDue(benchmark::State& state) {
    Fleet& fleet = fleet_of(static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) fleet.orchestrator.sweep();
}
BENCHMARK(BM_SweepNothingDue)->Arg(1'000)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------------------------
// Node listing

void BM_ListNodesThroughRouter(benchmark::State& state) {
    Fleet& fleet = fleet_of(static_cast<std::size_t>(state.range(0)));
    std::size_t bytes = 0;
    for (auto _ : state) {
        http::Request request;
        request.target = "/api/nodes";
        auto response = fleet.router.handle(request);
        bytes = response.body.size();
        benchmark::DoNotOptimize(response);
    }
    state.counters["body_bytes"] = static_cast<double>(bytes);
    state.counters["bytes_per_node"] = static_cast<double>(bytes) / static_cast<double>(state.range(0));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_ListNodesThroughRouter)->Arg(1'000)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond);

// Only the sorted snapshot the listing starts from.
void BM_SnapshotNodes(benchmark::State& state) {
    Fleet& fleet = fleet_of(static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(fleet.orchestrator.nodes());
}
BENCHMARK(BM_SnapshotNodes)->Arg(10'000)->Unit(benchmark::kMillisecond);

// The floor: copying a body of the listing's size.
void BM_CopyListingSizedBody(benchmark::State& state) {
    Fleet& fleet = fleet_of(static_cast<std::size_t>(state.range(0)));
    http::Request request;
    request.target = "/api/nodes";
    const std::string listing = fleet.router.handle(request).body;
    for (auto _ : state) {
        std::string copy = listing;
        benchmark::DoNotOptimize(copy);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * listing.size()));
}
BENCHMARK(BM_CopyListingSizedBody)->Arg(10'000)->Unit(benchmark::kMillisecond);

// One dashboard refresh of the node listing at fleet scale (issue 24, goal 4): the bytes it
// moves and the daemon's time, with 1% of the nodes changed since the last refresh.
// Mode 0: the whole list; 1: the whole list, gzip; 2: a delta (?since=); 3: a delta, gzip;
// 4: an idle refresh (nothing changed: a delta answered 304 to its ETag).
enum RefreshMode : std::int64_t { whole = 0, whole_gzip, delta, delta_gzip, idle };

void BM_NodeListingRefresh(benchmark::State& state) {
    Fleet& fleet = fleet_of(static_cast<std::size_t>(state.range(0)));
    const auto mode = static_cast<RefreshMode>(state.range(1));
    const auto nodes = fleet.bodies.size();
    // The fleet outlives a run: its reports (and where the changes are) carry over between
    // runs, so that each change moves a node from where the last run left it.
    static std::map<std::size_t, std::pair<std::vector<protocol::Heartbeat>, std::size_t>> carried;
    auto& [reports, next_change] = carried[nodes];
    if (reports.empty()) {
        reports.reserve(nodes);
        for (const auto& body : fleet.bodies) reports.push_back(protocol::parse_heartbeat(body.json));
    }
    const auto ask = [&fleet](const std::string& target, bool gzip, const std::string& etag = {}) {
        http::Request request;
        request.target = target;
        if (gzip) request.headers.push_back({"Accept-Encoding", "gzip, deflate, br"});
        if (!etag.empty()) request.headers.push_back({"If-None-Match", etag});
        return fleet.router.handle(request);
    };
    std::string revision = nlohmann::json::parse(ask("/api/nodes?since=", false).body)["revision"];
    double bytes = 0, listed = 0;
    for (auto _ : state) {
        state.PauseTiming();
        // 1% of the fleet moves: a CPU figure 5 points up or down shows on the dashboard.
        if (mode != idle) {
            for (std::size_t i = 0; i < std::max<std::size_t>(1, nodes / 100); ++i) {
                auto& report = reports[next_change++ % nodes];
                report.cpu_usage_percent = report.cpu_usage_percent >= 50 ? report.cpu_usage_percent - 5 : report.cpu_usage_percent + 5;
                fleet.orchestrator.record_heartbeat(protocol::Heartbeat{report});
            }
        }
        std::string etag;
        if (mode == idle) etag = std::string(ask("/api/nodes?since=" + revision, true).header("ETag").value_or(""));
        state.ResumeTiming();
        const bool gzip = mode == whole_gzip || mode == delta_gzip || mode == idle;
        const auto response = mode == whole || mode == whole_gzip ? ask("/api/nodes", gzip)
                                                                  : ask("/api/nodes?since=" + revision, gzip, etag);
        state.PauseTiming();
        bytes = static_cast<double>(response.body.size());
        if (mode == delta || mode == delta_gzip) {
            const auto body = gzip && response.header("Content-Encoding") ? http::gunzip(response.body) : response.body;
            const auto answer = nlohmann::json::parse(body);
            revision = answer["revision"];
            listed = static_cast<double>(answer["nodes"].size());
        } else if (mode == idle && response.status != 304) {
            state.SkipWithError("an idle refresh was not answered 304");
        }
        state.ResumeTiming();
    }
    state.counters["wire_bytes"] = bytes;
    state.counters["nodes_sent"] = listed;
}
BENCHMARK(BM_NodeListingRefresh)
    ->ArgsProduct({{1'000, 10'000, 100'000}, {whole, whole_gzip, delta, delta_gzip, idle}})
    ->Unit(benchmark::kMillisecond);

// gzip alone on a 10,000-node listing, by zlib level: what level 1 saves in time and costs in bytes.
void BM_GzipNodeListing(benchmark::State& state) {
    Fleet& fleet = fleet_of(10'000);
    http::Request request;
    request.target = "/api/nodes";
    const std::string listing = fleet.router.handle(request).body;
    std::size_t packed = 0;
    for (auto _ : state) {
        const auto out = http::gzip(listing, static_cast<int>(state.range(0)));
        packed = out.size();
        benchmark::DoNotOptimize(out);
    }
    state.counters["plain_bytes"] = static_cast<double>(listing.size());
    state.counters["gzip_bytes"] = static_cast<double>(packed);
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * listing.size()));
}
BENCHMARK(BM_GzipNodeListing)->Arg(1)->Arg(6)->Arg(9)->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------------------------
// Memory per node, as the heap sees it (glibc's mallinfo2: bytes in use, allocator overhead
// excluded; RSS per node from bench/run.sh includes it). Not a timing: one iteration.

std::size_t heap_in_use() { return mallinfo2().uordblks; }

void BM_HeapPerNode(benchmark::State& state) {
    const auto nodes = static_cast<std::size_t>(state.range(0));
    const int max_vms = static_cast<int>(state.range(1));
    std::vector<protocol::Heartbeat> heartbeats;
    heartbeats.reserve(nodes);
    for (std::size_t node = 0; node < nodes; ++node) {
        heartbeats.push_back(protocol::parse_heartbeat(bench::heartbeat_body(node, max_vms).json));
    }
    double orchestrator_bytes = 0, records_bytes = 0, scheduler_bytes = 0;
    for (auto _ : state) {
        // The whole daemon state.
        {
            ManualClock clock;
            SequentialIdSource ids;
            const auto before = heap_in_use();
            auto orchestrator = std::make_unique<orchestrator::Orchestrator>(orchestrator::OrchestratorOptions{}, clock, ids);
            for (const auto& heartbeat : heartbeats) orchestrator->record_heartbeat(heartbeat);
            orchestrator_bytes = static_cast<double>(heap_in_use() - before);
        }
        // The published records alone (what the node store points to).
        {
            const auto before = heap_in_use();
            std::vector<fleet::NodeSnapshot> records;
            records.reserve(nodes);
            for (const auto& heartbeat : heartbeats) {
                auto record = std::make_shared<fleet::NodeRecord>();
                record->report = heartbeat;
                records.push_back(std::move(record));
            }
            records_bytes = static_cast<double>(heap_in_use() - before);
        }
        // The scheduler's view alone: its indexes over records published already.
        {
            std::vector<fleet::NodeSnapshot> records;
            records.reserve(nodes);
            for (const auto& heartbeat : heartbeats) {
                auto record = std::make_shared<fleet::NodeRecord>();
                record->report = heartbeat;
                records.push_back(std::move(record));
            }
            const auto before = heap_in_use();
            auto scheduler = std::make_unique<scheduling::Scheduler>(scheduling::SchedulerOptions{});
            for (const auto& record : records) scheduler->observe(record);
            scheduler_bytes = static_cast<double>(heap_in_use() - before);
        }
    }
    const auto per_node = [nodes](double bytes) { return bytes / static_cast<double>(nodes); };
    state.counters["daemon_B_per_node"] = per_node(orchestrator_bytes);
    state.counters["records_B_per_node"] = per_node(records_bytes);
    state.counters["scheduler_B_per_node"] = per_node(scheduler_bytes);
}
// {nodes, max VMs per node}: 0 is an idle fleet, 2 the mix of 0-2 VMs the load generator sends.
BENCHMARK(BM_HeapPerNode)->Args({10'000, 0})->Args({10'000, 2})->Args({100'000, 0})->Args({100'000, 2})->Iterations(1)->Unit(benchmark::kMillisecond);

// One change of the placement queue made durable (a request joins, another leaves, committed)
// with `range(0)` requests already waiting: the cost of a change must not grow with the queue
// (issue 18: it used to rewrite every queued row).
static void BM_DurableQueueChange(benchmark::State& state) {
    const auto directory = std::filesystem::temp_directory_path() / ("macvmorx-bench-queue-" + std::to_string(::getpid()));
    std::filesystem::remove_all(directory);
    {
        storage::DurableStore store{directory};
        const auto waiting = static_cast<int>(state.range(0));
        for (int i = 0; i < waiting; ++i) store.queue_joined("vm-" + std::to_string(i), false);
        if (!store.flush()) throw std::runtime_error("cannot write the queue");
        int next = waiting;
        for (auto _ : state) {
            store.queue_joined("vm-" + std::to_string(next), false);
            store.queue_left("vm-" + std::to_string(next - waiting));
            ++next;
            if (!store.flush()) throw std::runtime_error("cannot write the queue");
        }
    }
    std::filesystem::remove_all(directory);
}
BENCHMARK(BM_DurableQueueChange)->Arg(100)->Arg(10'000)->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------------------------
// Recording a figure, from one thread and from two at once into the same series: what the
// router's observer does per answer (a counter, a latency histogram). prometheus-cpp's
// Histogram::Observe takes a mutex and Counter::Increment is a compare-and-swap loop on an
// atomic<double>; a relaxed atomic addition is there for reference (docs/benchmarks.md has the
// lock-free histogram they replaced).

void BM_PrometheusHistogramObserve(benchmark::State& state) {
    static prometheus::Histogram histogram{{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                            0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
    for (auto _ : state) histogram.Observe(0.0003);
}
BENCHMARK(BM_PrometheusHistogramObserve)->Threads(1)->Threads(2);

void BM_AtomicCounterIncrement(benchmark::State& state) {
    static std::atomic<std::uint64_t> counter{0};
    for (auto _ : state) counter.fetch_add(1, std::memory_order_relaxed);
}
BENCHMARK(BM_AtomicCounterIncrement)->Threads(1)->Threads(2);

void BM_PrometheusCounterIncrement(benchmark::State& state) {
    static prometheus::Counter counter;
    for (auto _ : state) counter.Increment();
}
BENCHMARK(BM_PrometheusCounterIncrement)->Threads(1)->Threads(2);

// ---------------------------------------------------------------------------------------------
// Checking an image download (issue 21): every byte of a 30-60 GB image goes through CRC-32C,
// MD5 and SHA-256 once. Bytes per second of one core, 1 MiB at a time as a download writes.

void BM_Crc32c(benchmark::State& state) {
    const std::string chunk(1 << 20, 'x');
    std::uint32_t crc = 0;
    for (auto _ : state) {
        crc = object_store::crc32c(crc, chunk);
        benchmark::DoNotOptimize(crc);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(chunk.size()));
}
BENCHMARK(BM_Crc32c);

void BM_DigestDownloadChunk(benchmark::State& state) {
    const std::string chunk(1 << 20, 'x');
    object_store::ObjectDigest digest;
    for (auto _ : state) digest.update(chunk);
    benchmark::DoNotOptimize(digest.finish());
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(chunk.size()));
}
BENCHMARK(BM_DigestDownloadChunk);


} // namespace

int main(int argc, char** argv) {
    // The daemon logs every placement at info; a benchmark measures the work, not the console.
    spdlog::set_level(spdlog::level::warn);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
