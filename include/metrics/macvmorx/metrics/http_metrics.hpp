#pragma once

#include "macvmorx/http/router.hpp"
#include "macvmorx/base/histogram.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace macvmorx::metrics {

class PrometheusWriter;

// Counts answers by route, method and status, with a latency histogram per route, and the
// requests refused before routing. Cheap on the hot path: a few relaxed atomic additions.
class HttpMetrics final : public http::RequestObserver {
public:
    // The route table must not change afterwards.
    explicit HttpMetrics(const http::Router& router);

    void on_answer(std::size_t route, http::Method method, int status, double seconds) override;
    void on_refused(std::string_view target, int status) override;

    void write(PrometheusWriter& out) const;
    // Heartbeats received, and refused by reason (a status maps to a reason).
    void write_heartbeats(PrometheusWriter& out) const;

private:
    static constexpr std::array<int, 19> statuses{200, 201, 202, 204, 304, 400, 401, 403, 404, 405,
                                                   409, 413, 415, 422, 429, 431, 500, 503, 0};
    static std::size_t slot_of(int status);

    struct RouteCounters {
        std::string route;  // the pattern, or "unmatched"
        std::string method;
        std::unique_ptr<std::atomic<std::uint64_t>[]> by_status;
        std::unique_ptr<Histogram> latency;
    };

    std::vector<RouteCounters> routes_; // one per route, then one for unmatched requests
    std::size_t heartbeat_route_ = http::RequestObserver::no_route;
    std::unique_ptr<std::atomic<std::uint64_t>[]> refused_;           // by status slot
    std::unique_ptr<std::atomic<std::uint64_t>[]> refused_heartbeats_; // by status slot
};

} // namespace macvmorx::metrics
