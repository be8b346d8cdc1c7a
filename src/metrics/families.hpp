#pragma once

// Building prometheus-cpp's MetricFamily at scrape time, for metrics/'s sources.

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace macvmorx::metrics {

// Label names and values, in the order the exposition shows them.
using LabelPairs = std::initializer_list<std::pair<std::string_view, std::string_view>>;

inline prometheus::MetricFamily family(std::string name, std::string help, prometheus::MetricType type) {
    return {std::move(name), std::move(help), type, {}};
}

// Sets a metric's labels, in the order given (prometheus-cpp's own families sort them by name).
inline void set_labels(prometheus::ClientMetric& metric, LabelPairs labels) {
    metric.label.clear();
    metric.label.reserve(labels.size());
    for (const auto& [name, value] : labels) metric.label.push_back({std::string(name), std::string(value)});
}

// A sample of a counter or gauge family (the family's type says which).
inline void sample(prometheus::MetricFamily& family, LabelPairs labels, double value) {
    auto& metric = family.metric.emplace_back();
    set_labels(metric, labels);
    if (family.type == prometheus::MetricType::Counter) {
        metric.counter.value = value;
    } else {
        metric.gauge.value = value;
    }
}

} // namespace macvmorx::metrics
