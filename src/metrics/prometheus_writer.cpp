#include "macvmorx/metrics/prometheus_writer.hpp"

#include <charconv>
#include <cmath>

namespace macvmorx::metrics {
namespace {

void append_escaped(std::string& out, std::string_view value) {
    for (const char c : value) {
        switch (c) {
        case '\\': out += "\\\\"; break;
        case '"': out += "\\\""; break;
        case '\n': out += "\\n"; break;
        default: out += c;
        }
    }
}

void append_number(std::string& out, double value) {
    if (std::isnan(value)) {
        out += "NaN";
        return;
    }
    if (std::isinf(value)) {
        out += value > 0 ? "+Inf" : "-Inf";
        return;
    }
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, result.ptr);
}

} // namespace

void PrometheusWriter::family(std::string_view name, std::string_view help, std::string_view type) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
}

void PrometheusWriter::series(std::string_view name, const LabelPairs& labels, std::string_view extra_label,
                              std::string_view extra_value) {
    out_ += name;
    if (labels.empty() && extra_label.empty()) return;
    out_ += '{';
    bool first = true;
    const auto label = [&](std::string_view key, std::string_view value) {
        if (!first) out_ += ',';
        first = false;
        out_ += key;
        out_ += "=\"";
        append_escaped(out_, value);
        out_ += '"';
    };
    for (const auto& [key, value] : labels) label(key, value);
    if (!extra_label.empty()) label(extra_label, extra_value);
    out_ += '}';
}

void PrometheusWriter::sample(std::string_view name, const LabelPairs& labels, double value) {
    series(name, labels);
    out_ += ' ';
    append_number(out_, value);
    out_ += '\n';
}

void PrometheusWriter::sample(std::string_view name, const LabelPairs& labels, std::uint64_t value) {
    series(name, labels);
    out_ += ' ';
    out_ += std::to_string(value);
    out_ += '\n';
}

void PrometheusWriter::histogram(std::string_view name, const LabelPairs& labels, const Histogram& histogram) {
    const auto snapshot = histogram.snapshot();
    const std::string bucket = std::string(name) + "_bucket";
    const auto& bounds = histogram.upper_bounds();
    for (std::size_t i = 0; i <= bounds.size(); ++i) {
        std::string le;
        if (i < bounds.size()) {
            append_number(le, bounds[i]);
        } else {
            le = "+Inf";
        }
        series(bucket, labels, "le", le);
        out_ += ' ';
        out_ += std::to_string(snapshot.cumulative[i]);
        out_ += '\n';
    }
    sample(std::string(name) + "_sum", labels, snapshot.sum);
    sample(std::string(name) + "_count", labels, snapshot.count);
}

} // namespace macvmorx::metrics
