#include "macvmorx/metrics/http_metrics.hpp"

#include "macvmorx/metrics/prometheus_writer.hpp"

#include <algorithm>

namespace macvmorx::metrics {
namespace {

// Why a heartbeat was refused, by the status it got.
std::string_view reason_of(int status) {
    switch (status) {
    case 400: return "malformed";
    case 401: return "unauthenticated";
    case 403: return "forbidden";
    case 413: return "too_large";
    case 415: return "unsupported_media_type";
    case 422: return "invalid_value";
    case 429: return "rate_limited";
    case 431: return "header_too_large";
    default: return status >= 500 || status == 0 ? "server_error" : "other";
    }
}

std::string status_label(int status) { return status == 0 ? "other" : std::to_string(status); }

} // namespace

std::size_t HttpMetrics::slot_of(int status) {
    const auto it = std::find(statuses.begin(), statuses.end() - 1, status);
    return static_cast<std::size_t>(it - statuses.begin()); // "other" is the last slot
}

HttpMetrics::HttpMetrics(const http::Router& router)
    : refused_{std::make_unique<std::atomic<std::uint64_t>[]>(statuses.size())},
      refused_heartbeats_{std::make_unique<std::atomic<std::uint64_t>[]>(statuses.size())} {
    const auto& table = router.routes();
    for (std::size_t i = 0; i <= table.size(); ++i) {
        RouteCounters counters;
        counters.route = i < table.size() ? table[i].pattern : "unmatched";
        counters.method = i < table.size() ? std::string(http::to_string(table[i].method)) : "any";
        counters.by_status = std::make_unique<std::atomic<std::uint64_t>[]>(statuses.size());
        counters.latency = std::make_unique<Histogram>(Histogram::latency_bounds());
        if (i < table.size() && table[i].pattern == "/api/heartbeat") heartbeat_route_ = i;
        routes_.push_back(std::move(counters));
    }
}

void HttpMetrics::on_answer(std::size_t route, http::Method, int status, double seconds) {
    auto& counters = routes_[std::min(route, routes_.size() - 1)];
    counters.by_status[slot_of(status)].fetch_add(1, std::memory_order_relaxed);
    counters.latency->observe(seconds);
}

void HttpMetrics::on_refused(std::string_view target, int status) {
    refused_[slot_of(status)].fetch_add(1, std::memory_order_relaxed);
    if (target.starts_with("/api/heartbeat")) refused_heartbeats_[slot_of(status)].fetch_add(1, std::memory_order_relaxed);
}

void HttpMetrics::write(PrometheusWriter& out) const {
    out.family("macvmorx_http_requests_total", "HTTP requests answered, by route pattern, method and status.", "counter");
    for (const auto& counters : routes_) {
        for (std::size_t slot = 0; slot < statuses.size(); ++slot) {
            const auto count = counters.by_status[slot].load(std::memory_order_relaxed);
            if (count == 0) continue;
            const std::string status = status_label(statuses[slot]);
            out.sample("macvmorx_http_requests_total",
                       {{"route", counters.route}, {"method", counters.method}, {"status", status}}, count);
        }
    }
    out.family("macvmorx_http_request_duration_seconds", "Time to answer a request, by route pattern.", "histogram");
    for (const auto& counters : routes_) {
        if (counters.latency->snapshot().count == 0) continue;
        out.histogram("macvmorx_http_request_duration_seconds", {{"route", counters.route}, {"method", counters.method}},
                      *counters.latency);
    }
    out.family("macvmorx_http_requests_refused_total",
               "Requests refused before routing (malformed, header or body too large), by status.", "counter");
    for (std::size_t slot = 0; slot < statuses.size(); ++slot) {
        const auto count = refused_[slot].load(std::memory_order_relaxed);
        if (count > 0) out.sample("macvmorx_http_requests_refused_total", {{"status", status_label(statuses[slot])}}, count);
    }
}

void HttpMetrics::write_heartbeats(PrometheusWriter& out) const {
    std::uint64_t accepted = 0;
    std::array<std::uint64_t, statuses.size()> rejected{};
    for (std::size_t slot = 0; slot < statuses.size(); ++slot) {
        const auto answered = heartbeat_route_ == http::RequestObserver::no_route
                                  ? 0
                                  : routes_[heartbeat_route_].by_status[slot].load(std::memory_order_relaxed);
        if (statuses[slot] == 200) {
            accepted += answered;
        } else {
            rejected[slot] += answered;
        }
        rejected[slot] += refused_heartbeats_[slot].load(std::memory_order_relaxed);
    }
    std::uint64_t total_rejected = 0;
    for (const auto count : rejected) total_rejected += count;
    out.family("macvmorx_heartbeats_received_total", "Heartbeats received, accepted or not.", "counter");
    out.sample("macvmorx_heartbeats_received_total", {}, accepted + total_rejected);
    out.family("macvmorx_heartbeats_rejected_total", "Heartbeats refused, by reason.", "counter");
    // Reasons may share a status class ("server_error"): add them up per reason. The usual
    // reasons are always written, so that a first refusal is a change a rate() can see.
    std::vector<std::pair<std::string_view, std::uint64_t>> by_reason{
        {"malformed", 0}, {"invalid_value", 0}, {"too_large", 0}, {"unsupported_media_type", 0}};
    for (std::size_t slot = 0; slot < statuses.size(); ++slot) {
        if (rejected[slot] == 0) continue;
        const auto reason = reason_of(statuses[slot]);
        const auto it = std::find_if(by_reason.begin(), by_reason.end(), [reason](const auto& r) { return r.first == reason; });
        if (it == by_reason.end()) {
            by_reason.emplace_back(reason, rejected[slot]);
        } else {
            it->second += rejected[slot];
        }
    }
    for (const auto& [reason, count] : by_reason) out.sample("macvmorx_heartbeats_rejected_total", {{"reason", reason}}, count);
}

} // namespace macvmorx::metrics
