#pragma once

#include "macvmorx/http/router.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace prometheus {
class Counter;
class Histogram;
class Registry;
template <typename T>
class Family;
} // namespace prometheus

namespace macvmorx::metrics {

class Scrape;

// Counts answers by route, method and status, with a latency histogram per route, and the
// requests refused before routing, in prometheus-cpp counters and histograms of a registry.
// A series is made when it is first seen (absent until then) and its pointer kept per route and
// status, so that recording an answer is two atomic loads, a counter's increment (a
// compare-and-swap) and a histogram's observe (under the histogram's mutex). Every member is
// safe from any thread.
class HttpMetrics final : public http::RequestObserver {
public:
    // The route table must not change afterwards.
    HttpMetrics(const http::Router& router, prometheus::Registry& registry);
    ~HttpMetrics() override;

    void on_answer(std::size_t route, http::Method method, int status, double seconds) override;
    void on_refused(std::string_view target, int status) override;

    void collect(Scrape& scrape) const;
    // Heartbeats received, and refused by reason (a status maps to a reason), from the counts
    // of the heartbeat route and of refused requests.
    void collect_heartbeats(Scrape& scrape) const;

private:
    static constexpr std::array<int, 19> statuses{200, 201, 202, 204, 304, 400, 401, 403, 404, 405,
                                                   409, 413, 415, 422, 429, 431, 500, 503, 0};
    static std::size_t slot_of(int status);
    template <typename T>
    using Slots = std::array<std::atomic<T*>, statuses.size()>;

    struct RouteSeries {
        std::string route; // the pattern, or "unmatched"
        std::string method;
        Slots<prometheus::Counter> by_status{};
        std::atomic<prometheus::Histogram*> latency{nullptr};
    };

    // The first answer of a route and status, or the first refusal of a status: makes its series.
    prometheus::Counter& first_answer(RouteSeries& series, std::size_t slot);
    prometheus::Histogram& first_latency(RouteSeries& series);
    prometheus::Counter& first_refusal(std::size_t slot);

    prometheus::Family<prometheus::Counter>& requests_;
    prometheus::Family<prometheus::Histogram>& durations_;
    prometheus::Family<prometheus::Counter>& refused_;
    std::vector<RouteSeries> routes_; // one per route, then one for unmatched requests
    std::size_t heartbeat_route_ = http::RequestObserver::no_route;
    Slots<prometheus::Counter> refused_by_status_{};
    // Refusals of heartbeats before routing: part of the heartbeats refused, not a family.
    std::array<std::atomic<std::uint64_t>, statuses.size()> refused_heartbeats_{};
};

} // namespace macvmorx::metrics
