#include "macvmorx/metrics/scrape.hpp"

#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <iterator>

namespace macvmorx::metrics {

std::shared_ptr<prometheus::Registry> make_registry() { return std::make_shared<prometheus::Registry>(); }

Scrape::Scrape() = default;

Scrape::~Scrape() = default;

void Scrape::add(prometheus::MetricFamily&& family) { families_.push_back(std::move(family)); }

void Scrape::add(std::vector<prometheus::MetricFamily>&& families) {
    families_.insert(families_.end(), std::make_move_iterator(families.begin()), std::make_move_iterator(families.end()));
}

std::string Scrape::text() const { return prometheus::TextSerializer{}.Serialize(families_); }

} // namespace macvmorx::metrics
