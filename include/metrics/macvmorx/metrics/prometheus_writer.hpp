#pragma once

#include "macvmorx/base/histogram.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace macvmorx::metrics {

using LabelPairs = std::vector<std::pair<std::string_view, std::string_view>>;

// Writes the Prometheus text exposition format (version 0.0.4): a family's HELP and TYPE, then
// its samples. Label values are escaped; the caller keeps each family's samples together.
class PrometheusWriter {
public:
    explicit PrometheusWriter(std::string& out) : out_{out} {}

    void family(std::string_view name, std::string_view help, std::string_view type);
    void sample(std::string_view name, const LabelPairs& labels, double value);
    void sample(std::string_view name, const LabelPairs& labels, std::uint64_t value);
    // A whole histogram family's samples (name_bucket, name_sum, name_count).
    void histogram(std::string_view name, const LabelPairs& labels, const Histogram& histogram);

private:
    void series(std::string_view name, const LabelPairs& labels, std::string_view extra_label = {},
                std::string_view extra_value = {});

    std::string& out_;
};

} // namespace macvmorx::metrics
