#include "macvmorx/base/histogram.hpp"
#include "macvmorx/metrics/prometheus_writer.hpp"

#include <gtest/gtest.h>

#include <thread>

using macvmorx::Histogram;
using macvmorx::metrics::PrometheusWriter;

TEST(Histogram, CountsObservationsCumulativelyWithSumAndCount) {
    Histogram histogram{{0.1, 1, 10}};
    for (const double value : {0.05, 0.1, 0.5, 5.0, 50.0}) histogram.observe(value);
    const auto snapshot = histogram.snapshot();
    EXPECT_EQ(snapshot.cumulative, (std::vector<std::uint64_t>{2, 3, 4, 5}));
    EXPECT_EQ(snapshot.count, 5u);
    EXPECT_DOUBLE_EQ(snapshot.sum, 55.65);
}

TEST(Histogram, ConcurrentObservationsAreAllCounted) {
    Histogram histogram{Histogram::latency_bounds()};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&histogram] {
            for (int i = 0; i < 10'000; ++i) histogram.observe(0.001);
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(histogram.snapshot().count, 40'000u);
    EXPECT_NEAR(histogram.snapshot().sum, 40.0, 1e-6);
}

TEST(PrometheusWriter, WritesFamiliesSamplesAndEscapedLabels) {
    std::string out;
    PrometheusWriter writer{out};
    writer.family("macvmorx_test_total", "A test counter.", "counter");
    writer.sample("macvmorx_test_total", {{"node", "mac \"1\"\\\nx"}}, std::uint64_t{3});
    writer.sample("macvmorx_test_total", {}, 1.5);
    EXPECT_EQ(out,
              "# HELP macvmorx_test_total A test counter.\n"
              "# TYPE macvmorx_test_total counter\n"
              "macvmorx_test_total{node=\"mac \\\"1\\\"\\\\\\nx\"} 3\n"
              "macvmorx_test_total 1.5\n");
}

TEST(PrometheusWriter, WritesHistogramsWithLeAndInf) {
    Histogram histogram{{0.5, 2}};
    histogram.observe(1);
    std::string out;
    PrometheusWriter{out}.histogram("h_seconds", {{"route", "/x"}}, histogram);
    EXPECT_EQ(out,
              "h_seconds_bucket{route=\"/x\",le=\"0.5\"} 0\n"
              "h_seconds_bucket{route=\"/x\",le=\"2\"} 1\n"
              "h_seconds_bucket{route=\"/x\",le=\"+Inf\"} 1\n"
              "h_seconds_sum{route=\"/x\"} 1\n"
              "h_seconds_count{route=\"/x\"} 1\n");
}
