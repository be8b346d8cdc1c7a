#include "macvmorx/metrics/scrape.hpp"

#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <sstream>

namespace macvmorx::metrics {

std::shared_ptr<prometheus::Registry> make_registry() { return std::make_shared<prometheus::Registry>(); }

struct Scrape::Output {
    std::ostringstream text;
    prometheus::TextSerializer serializer;
};

Scrape::Scrape() : out_{std::make_unique<Output>()} {}

Scrape::~Scrape() = default;

void Scrape::add(prometheus::MetricFamily&& family) {
    std::vector<prometheus::MetricFamily> one;
    one.push_back(std::move(family));
    add(std::move(one));
}

void Scrape::add(std::vector<prometheus::MetricFamily>&& families) {
    out_->serializer.Serialize(out_->text, families);
    families.clear();
}

std::string Scrape::text() const { return out_->text.str(); }

} // namespace macvmorx::metrics
