#include "macvmorx/metrics/http_metrics.hpp"

#include "buckets.hpp"
#include "families.hpp"
#include "macvmorx/metrics/scrape.hpp"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <utility>

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

struct Names {
    const char* name;
    const char* help;
};
constexpr Names requests_names{"macvmorx_http_requests_total", "HTTP requests answered, by route pattern, method and status."};
constexpr Names durations_names{"macvmorx_http_request_duration_seconds", "Time to answer a request, by route pattern."};
constexpr Names refused_names{"macvmorx_http_requests_refused_total",
                              "Requests refused before routing (malformed, header or body too large), by status."};

std::string status_label(int status) { return status == 0 ? "other" : std::to_string(status); }

double value_of(const std::atomic<prometheus::Counter*>& slot) {
    const auto* counter = slot.load(std::memory_order_acquire);
    return counter == nullptr ? 0 : counter->Value();
}

} // namespace

std::size_t HttpMetrics::slot_of(int status) {
    const auto it = std::find(statuses.begin(), statuses.end() - 1, status);
    return static_cast<std::size_t>(it - statuses.begin()); // "other" is the last slot
}

HttpMetrics::HttpMetrics(const http::Router& router, prometheus::Registry& registry)
    : requests_{prometheus::BuildCounter().Name(requests_names.name).Help(requests_names.help).Register(registry)},
      durations_{prometheus::BuildHistogram().Name(durations_names.name).Help(durations_names.help).Register(registry)},
      refused_{prometheus::BuildCounter().Name(refused_names.name).Help(refused_names.help).Register(registry)},
      routes_(router.routes().size() + 1) {
    const auto& table = router.routes();
    for (std::size_t i = 0; i < table.size(); ++i) {
        routes_[i].route = table[i].pattern;
        routes_[i].method = http::to_string(table[i].method);
        if (table[i].pattern == "/api/heartbeat") heartbeat_route_ = i;
    }
    routes_.back().route = "unmatched";
    routes_.back().method = "any";
}

HttpMetrics::~HttpMetrics() = default;

void HttpMetrics::on_answer(std::size_t route, http::Method, int status, double seconds) {
    auto& series = routes_[std::min(route, routes_.size() - 1)];
    const auto slot = slot_of(status);
    auto* answered = series.by_status[slot].load(std::memory_order_acquire);
    if (answered == nullptr) answered = &first_answer(series, slot);
    answered->Increment();
    auto* latency = series.latency.load(std::memory_order_acquire);
    if (latency == nullptr) latency = &first_latency(series);
    latency->Observe(seconds);
}

void HttpMetrics::on_refused(std::string_view target, int status) {
    const auto slot = slot_of(status);
    auto* refused = refused_by_status_[slot].load(std::memory_order_acquire);
    if (refused == nullptr) refused = &first_refusal(slot);
    refused->Increment();
    if (target.starts_with("/api/heartbeat")) refused_heartbeats_[slot].fetch_add(1, std::memory_order_relaxed);
}

// Two threads may make the same series at once: the family gives both the same metric.
prometheus::Counter& HttpMetrics::first_answer(RouteSeries& series, std::size_t slot) {
    auto& counter = requests_.Add({{"route", series.route}, {"method", series.method}, {"status", status_label(statuses[slot])}});
    series.by_status[slot].store(&counter, std::memory_order_release);
    return counter;
}

prometheus::Histogram& HttpMetrics::first_latency(RouteSeries& series) {
    auto& histogram = durations_.Add({{"route", series.route}, {"method", series.method}}, latency_buckets());
    series.latency.store(&histogram, std::memory_order_release);
    return histogram;
}

prometheus::Counter& HttpMetrics::first_refusal(std::size_t slot) {
    auto& counter = refused_.Add({{"status", status_label(statuses[slot])}});
    refused_by_status_[slot].store(&counter, std::memory_order_release);
    return counter;
}

// Built from the kept series rather than the families' own Collect: in the order of the route
// table and of the statuses, and with the labels in the order operators know (route, method,
// status); prometheus-cpp's families would sort them by name and the series by hash.
void HttpMetrics::collect(Scrape& scrape) const {
    auto requests = family(requests_names.name, requests_names.help, prometheus::MetricType::Counter);
    auto durations = family(durations_names.name, durations_names.help, prometheus::MetricType::Histogram);
    for (const auto& series : routes_) {
        for (std::size_t slot = 0; slot < statuses.size(); ++slot) {
            const auto* counter = series.by_status[slot].load(std::memory_order_acquire);
            if (counter == nullptr) continue;
            auto& metric = requests.metric.emplace_back(counter->Collect());
            set_labels(metric, {{"route", series.route}, {"method", series.method}, {"status", status_label(statuses[slot])}});
        }
        if (const auto* latency = series.latency.load(std::memory_order_acquire)) {
            auto& metric = durations.metric.emplace_back(latency->Collect());
            set_labels(metric, {{"route", series.route}, {"method", series.method}});
        }
    }
    auto refused = family(refused_names.name, refused_names.help, prometheus::MetricType::Counter);
    for (std::size_t slot = 0; slot < statuses.size(); ++slot) {
        if (const auto* counter = refused_by_status_[slot].load(std::memory_order_acquire)) {
            auto& metric = refused.metric.emplace_back(counter->Collect());
            set_labels(metric, {{"status", status_label(statuses[slot])}});
        }
    }
    scrape.add(std::move(requests));
    scrape.add(std::move(durations));
    scrape.add(std::move(refused));
}

void HttpMetrics::collect_heartbeats(Scrape& scrape) const {
    double accepted = 0;
    std::array<double, statuses.size()> rejected{};
    for (std::size_t slot = 0; slot < statuses.size(); ++slot) {
        const double answered =
            heartbeat_route_ == http::RequestObserver::no_route ? 0 : value_of(routes_[heartbeat_route_].by_status[slot]);
        if (statuses[slot] == 200) {
            accepted += answered;
        } else {
            rejected[slot] += answered;
        }
        rejected[slot] += static_cast<double>(refused_heartbeats_[slot].load(std::memory_order_relaxed));
    }
    double total_rejected = 0;
    for (const auto count : rejected) total_rejected += count;
    auto received =
        family("macvmorx_heartbeats_received_total", "Heartbeats received, accepted or not.", prometheus::MetricType::Counter);
    sample(received, {}, accepted + total_rejected);
    scrape.add(std::move(received));

    // Reasons may share a status class ("server_error"): add them up per reason. The usual
    // reasons are always written, so that a first refusal is a change a rate() can see.
    std::vector<std::pair<std::string_view, double>> by_reason{
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
    auto refused = family("macvmorx_heartbeats_rejected_total", "Heartbeats refused, by reason.", prometheus::MetricType::Counter);
    for (const auto& [reason, count] : by_reason) sample(refused, {{"reason", reason}}, count);
    scrape.add(std::move(refused));
}

} // namespace macvmorx::metrics
