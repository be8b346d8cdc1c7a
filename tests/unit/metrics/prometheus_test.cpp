// The metrics layer through prometheus-cpp: what /metrics shows of each source, in the text
// format prometheus-cpp's TextSerializer writes.

#include "metrics/families.hpp" // white box: the helpers that build families at scrape time

#include "macvmorx/metrics/github_metrics.hpp"
#include "macvmorx/metrics/http_metrics.hpp"
#include "macvmorx/metrics/placement_metrics.hpp"
#include "macvmorx/metrics/scrape.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

using macvmorx::http::Method;
using macvmorx::http::Request;
using macvmorx::http::Response;
using macvmorx::http::Router;
using macvmorx::metrics::HttpMetrics;
using macvmorx::metrics::JobWaitMetrics;
using macvmorx::metrics::PlacementMetrics;
using macvmorx::metrics::Scrape;

namespace {

Router two_routes() {
    Router router;
    const auto ok = [](const Request&) { return Response::json(200, "{}"); };
    router.add({Method::get, "/api/nodes", ok, "list"});
    router.add({Method::post, "/api/heartbeat", ok, "heartbeat"});
    return router;
}

template <typename Source>
std::string text_of(const Source& source) {
    Scrape scrape;
    source.collect(scrape);
    return scrape.text();
}

bool has(const std::string& text, const std::string& line) { return text.find(line + "\n") != std::string::npos; }

} // namespace

TEST(Scrape, WritesFamiliesSamplesAndEscapedLabelValues) {
    auto family = macvmorx::metrics::family("macvmorx_test_total", "A test counter.", prometheus::MetricType::Counter);
    macvmorx::metrics::sample(family, {{"node", "mac \"1\"\\\nx"}, {"a_label_sorted_last", "z"}}, 3);
    macvmorx::metrics::sample(family, {}, 1.5);
    Scrape scrape;
    scrape.add(std::move(family));
    EXPECT_EQ(scrape.text(), "# HELP macvmorx_test_total A test counter.\n"
                             "# TYPE macvmorx_test_total counter\n"
                             "macvmorx_test_total{node=\"mac \\\"1\\\"\\\\\\nx\",a_label_sorted_last=\"z\"} 3\n"
                             "macvmorx_test_total 1.5\n")
        << "labels keep the order given";
}

TEST(Scrape, WritesHistogramBucketsWithLeAndInf) {
    auto registry = macvmorx::metrics::make_registry();
    JobWaitMetrics waits{*registry};
    waits.job_started(42);
    waits.job_started(7200);
    EXPECT_EQ(text_of(waits), "# HELP macvmorx_github_job_wait_seconds From a job's queued webhook to a runner starting it.\n"
                              "# TYPE macvmorx_github_job_wait_seconds histogram\n"
                              "macvmorx_github_job_wait_seconds_count 2\n"
                              "macvmorx_github_job_wait_seconds_sum 7242\n"
                              "macvmorx_github_job_wait_seconds_bucket{le=\"1\"} 0\n"
                              "macvmorx_github_job_wait_seconds_bucket{le=\"5\"} 0\n"
                              "macvmorx_github_job_wait_seconds_bucket{le=\"10\"} 0\n"
                              "macvmorx_github_job_wait_seconds_bucket{le=\"20\"} 0\n"
                              "macvmorx_github_job_wait_seconds_bucket{le=\"30\"} 0\n"
                              "macvmorx_github_job_wait_seconds_bucket{le=\"60\"} 1\n"
                              "macvmorx_github_job_wait_seconds_bucket{le=\"120\"} 1\n"
                              "macvmorx_github_job_wait_seconds_bucket{le=\"300\"} 1\n"
                              "macvmorx_github_job_wait_seconds_bucket{le=\"600\"} 1\n"
                              "macvmorx_github_job_wait_seconds_bucket{le=\"900\"} 1\n"
                              "macvmorx_github_job_wait_seconds_bucket{le=\"1800\"} 1\n"
                              "macvmorx_github_job_wait_seconds_bucket{le=\"3600\"} 1\n"
                              "macvmorx_github_job_wait_seconds_bucket{le=\"+Inf\"} 2\n");
}

TEST(PlacementMetrics, CountsEverySeriesFromTheStart) {
    auto registry = macvmorx::metrics::make_registry();
    PlacementMetrics placements{*registry};
    std::string text = text_of(placements);
    EXPECT_TRUE(has(text, "macvmorx_placements_total{result=\"queued\"} 0")) << text;
    EXPECT_TRUE(has(text, "macvmorx_vm_failures_total{cause=\"agent_restarted\",outcome=\"placed_again\"} 0")) << text;
    EXPECT_TRUE(has(text, "macvmorx_placement_decision_duration_seconds_bucket{le=\"1e-06\"} 0")) << text;

    placements.placed("macos-sequoia", true, 0.00002);
    placements.refused(0.003);
    placements.failed("start_deadline", true);
    placements.failed("no_such_cause", true);
    placements.started(42, 50);
    text = text_of(placements);
    EXPECT_TRUE(has(text, "macvmorx_placements_total{result=\"cached_image\"} 1")) << text;
    EXPECT_TRUE(has(text, "macvmorx_placements_total{result=\"no_capacity\"} 1")) << text;
    EXPECT_TRUE(has(text, "macvmorx_vm_failures_total{cause=\"start_deadline\",outcome=\"placed_again\"} 1")) << text;
    EXPECT_TRUE(has(text, "macvmorx_placement_decision_duration_seconds_count 2")) << text;
    EXPECT_TRUE(has(text, "macvmorx_placement_decision_duration_seconds_bucket{le=\"2.5e-05\"} 1")) << text;
    EXPECT_TRUE(has(text, "macvmorx_placement_decision_duration_seconds_bucket{le=\"0.0025\"} 1")) << text;
    EXPECT_TRUE(has(text, "macvmorx_placement_decision_duration_seconds_bucket{le=\"0.01\"} 2")) << text;
    EXPECT_TRUE(has(text, "macvmorx_vm_start_duration_seconds_bucket{le=\"60\"} 1")) << text;
}

TEST(HttpMetrics, ASeriesIsAbsentUntilItsFirstAnswer) {
    const auto router = two_routes();
    auto registry = macvmorx::metrics::make_registry();
    HttpMetrics http{router, *registry};
    std::string text = text_of(http);
    EXPECT_EQ(text, "# HELP macvmorx_http_requests_total HTTP requests answered, by route pattern, method and status.\n"
                    "# TYPE macvmorx_http_requests_total counter\n"
                    "# HELP macvmorx_http_request_duration_seconds Time to answer a request, by route pattern.\n"
                    "# TYPE macvmorx_http_request_duration_seconds histogram\n"
                    "# HELP macvmorx_http_requests_refused_total Requests refused before routing (malformed, header or "
                    "body too large), by status.\n"
                    "# TYPE macvmorx_http_requests_refused_total counter\n");

    http.on_answer(1, Method::post, 200, 0.0003);
    http.on_answer(1, Method::post, 200, 0.002);
    http.on_answer(HttpMetrics::no_route, Method::get, 404, 0.0001);
    http.on_answer(0, Method::get, 418, 0.0001); // a status of no slot of its own: "other"
    http.on_refused("/api/heartbeat", 413);
    text = text_of(http);
    EXPECT_TRUE(has(text, "macvmorx_http_requests_total{route=\"/api/heartbeat\",method=\"POST\",status=\"200\"} 2")) << text;
    EXPECT_TRUE(has(text, "macvmorx_http_requests_total{route=\"unmatched\",method=\"any\",status=\"404\"} 1")) << text;
    EXPECT_TRUE(has(text, "macvmorx_http_requests_total{route=\"/api/nodes\",method=\"GET\",status=\"other\"} 1")) << text;
    EXPECT_TRUE(has(text, "macvmorx_http_request_duration_seconds_count{route=\"/api/heartbeat\",method=\"POST\"} 2")) << text;
    EXPECT_TRUE(has(text, "macvmorx_http_request_duration_seconds_bucket{route=\"/api/heartbeat\",method=\"POST\",le=\"0.00025\"} 0"))
        << text;
    EXPECT_TRUE(has(text, "macvmorx_http_request_duration_seconds_bucket{route=\"/api/heartbeat\",method=\"POST\",le=\"0.0005\"} 1"))
        << text;
    EXPECT_TRUE(has(text, "macvmorx_http_request_duration_seconds_bucket{route=\"/api/heartbeat\",method=\"POST\",le=\"+Inf\"} 2"))
        << text;
    EXPECT_TRUE(has(text, "macvmorx_http_requests_refused_total{status=\"413\"} 1")) << text;
    EXPECT_EQ(text.find("status=\"500\""), std::string::npos) << "no series for a status never seen";
}

TEST(HttpMetrics, HeartbeatsReceivedAndRefusedComeFromTheRouteAndTheRefusals) {
    const auto router = two_routes();
    auto registry = macvmorx::metrics::make_registry();
    HttpMetrics http{router, *registry};
    http.on_answer(1, Method::post, 200, 0.001);
    http.on_answer(1, Method::post, 422, 0.001);
    http.on_answer(1, Method::post, 503, 0.001);
    http.on_refused("/api/heartbeat?x=1", 413);
    http.on_refused("/api/nodes", 431); // not a heartbeat
    Scrape scrape;
    http.collect_heartbeats(scrape);
    EXPECT_EQ(scrape.text(), "# HELP macvmorx_heartbeats_received_total Heartbeats received, accepted or not.\n"
                             "# TYPE macvmorx_heartbeats_received_total counter\n"
                             "macvmorx_heartbeats_received_total 4\n"
                             "# HELP macvmorx_heartbeats_rejected_total Heartbeats refused, by reason.\n"
                             "# TYPE macvmorx_heartbeats_rejected_total counter\n"
                             "macvmorx_heartbeats_rejected_total{reason=\"malformed\"} 0\n"
                             "macvmorx_heartbeats_rejected_total{reason=\"invalid_value\"} 1\n"
                             "macvmorx_heartbeats_rejected_total{reason=\"too_large\"} 1\n"
                             "macvmorx_heartbeats_rejected_total{reason=\"unsupported_media_type\"} 0\n"
                             "macvmorx_heartbeats_rejected_total{reason=\"server_error\"} 1\n");
}

TEST(HttpMetrics, ConcurrentAnswersAreAllCounted) {
    const auto router = two_routes();
    auto registry = macvmorx::metrics::make_registry();
    HttpMetrics http{router, *registry};
    // The threads meet the route's first answer together: one series each, made once.
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&http] {
            for (int i = 0; i < 10'000; ++i) {
                http.on_answer(1, Method::post, 200, 0.001);
                http.on_refused("/x", 400);
            }
        });
    }
    for (auto& thread : threads) thread.join();
    const auto text = text_of(http);
    EXPECT_TRUE(has(text, "macvmorx_http_requests_total{route=\"/api/heartbeat\",method=\"POST\",status=\"200\"} 40000")) << text;
    EXPECT_TRUE(has(text, "macvmorx_http_request_duration_seconds_count{route=\"/api/heartbeat\",method=\"POST\"} 40000")) << text;
    EXPECT_TRUE(has(text, "macvmorx_http_request_duration_seconds_bucket{route=\"/api/heartbeat\",method=\"POST\",le=\"0.001\"} 40000"))
        << text;
    EXPECT_TRUE(has(text, "macvmorx_http_requests_refused_total{status=\"400\"} 40000")) << text;
    const auto sum_at = text.find("macvmorx_http_request_duration_seconds_sum{route=\"/api/heartbeat\",method=\"POST\"} ");
    ASSERT_NE(sum_at, std::string::npos);
    EXPECT_NEAR(std::stod(text.substr(text.find("} ", sum_at) + 2)), 40.0, 1e-6);
}
