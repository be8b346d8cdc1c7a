#include "macvmorx/orchestrator/fleet_history.hpp"

#include <algorithm>
#include <cmath>

namespace macvmorx::orchestrator {
namespace {

// The value below which `share` of `values` lie (nearest rank); reorders them.
double percentile(std::vector<double>& values, double share) {
    const auto rank = static_cast<std::size_t>(std::ceil(share * static_cast<double>(values.size())));
    const auto nth = values.begin() + static_cast<std::ptrdiff_t>(std::clamp<std::size_t>(rank, 1, values.size()) - 1);
    std::nth_element(values.begin(), nth, values.end());
    return *nth;
}

} // namespace

FleetHistory::FleetHistory(Duration interval, std::size_t capacity) : interval_{interval}, capacity_{capacity} {}

void FleetHistory::vm_started(double seconds_since_request) {
    std::lock_guard lock{mutex_};
    ++started_;
    if (waits_.size() >= max_waits) {
        // A flood of starts: keep every other wait, a fair sample of the interval so far.
        for (std::size_t i = 0; i < waits_.size() / 2; ++i) waits_[i] = waits_[i * 2];
        waits_.resize(waits_.size() / 2);
    }
    waits_.push_back(seconds_since_request);
}

bool FleetHistory::due(TimePoint now) const {
    std::lock_guard lock{mutex_};
    return !last_ || now - *last_ >= interval_;
}

void FleetHistory::record(FleetSample sample) {
    const auto heartbeats = heartbeats_.load(std::memory_order_relaxed);
    std::lock_guard lock{mutex_};
    if (last_) {
        const double seconds = std::chrono::duration<double>(sample.at - *last_).count();
        if (seconds > 0) sample.heartbeats_per_second = static_cast<double>(heartbeats - heartbeats_at_last_) / seconds;
    }
    sample.vms_started = started_;
    if (!waits_.empty()) {
        sample.wait_p50_seconds = percentile(waits_, 0.50);
        sample.wait_p95_seconds = percentile(waits_, 0.95);
    }
    heartbeats_at_last_ = heartbeats;
    last_ = sample.at;
    started_ = 0;
    waits_.clear();
    samples_.push_back(sample);
    while (samples_.size() > capacity_) samples_.pop_front();
}

std::vector<FleetSample> FleetHistory::samples() const {
    std::lock_guard lock{mutex_};
    return {samples_.begin(), samples_.end()};
}

} // namespace macvmorx::orchestrator
