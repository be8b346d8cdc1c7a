#pragma once

// The histograms' upper bounds, in seconds.

#include <vector>

namespace macvmorx::metrics {

// Request latencies: 50 µs to 10 s.
inline std::vector<double> latency_buckets() {
    return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

// In-process decisions: 1 µs to 10 ms.
inline std::vector<double> decision_buckets() {
    return {0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01};
}

// How long VMs take to start, and jobs wait for a runner: 1 s to 1 h.
inline std::vector<double> startup_buckets() { return {1, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1800, 3600}; }

} // namespace macvmorx::metrics
