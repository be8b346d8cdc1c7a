#pragma once

#include <memory>
#include <string>
#include <vector>

namespace prometheus {
class Registry;
struct MetricFamily;
} // namespace prometheus

namespace macvmorx::metrics {

// The registry in which the metrics recorded as events happen (HttpMetrics, PlacementMetrics,
// JobWaitMetrics) keep their families: owned by whoever wires them (the daemon, a test) and
// given to each of them by reference.
std::shared_ptr<prometheus::Registry> make_registry();

// One scrape of /metrics: its text exposition (format 0.0.4), written by prometheus-cpp's
// TextSerializer, the only writer of the format. Sources add the families of the registry's
// metrics and those built at scrape time from the state they read; each family is written as it
// is added and then freed, so that a fleet's per-node families (8 of one sample per node) never
// stand in memory all at once. One per scrape, on the thread that answers it.
class Scrape {
public:
    Scrape();
    ~Scrape();
    Scrape(const Scrape&) = delete;
    Scrape& operator=(const Scrape&) = delete;

    void add(prometheus::MetricFamily&& family);
    void add(std::vector<prometheus::MetricFamily>&& families);

    // The text of the families added so far.
    std::string text() const;

private:
    struct Output;
    std::unique_ptr<Output> out_;
};

} // namespace macvmorx::metrics
