#pragma once

#include <atomic>
#include <chrono>

namespace macvmorx {

// Nanoseconds everywhere: the system clock's own tick is that on Linux but microseconds on
// macOS, where a time point plus a Duration would not convert back.
using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::system_clock, Duration>;

// Where "now" comes from. Domain code asks a Clock instead of the system so that tests can
// move time forward without sleeping. Implementations are safe to call from any thread.
class Clock {
public:
    virtual ~Clock() = default;
    virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
public:
    TimePoint now() const override { return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now()); }
};

// A clock that only moves when told to; for tests.
class ManualClock final : public Clock {
public:
    explicit ManualClock(TimePoint start = TimePoint{std::chrono::seconds{1'800'000'000}})
        : now_ns_{start.time_since_epoch().count()} {}

    TimePoint now() const override {
        return TimePoint{TimePoint::duration{now_ns_.load(std::memory_order_acquire)}};
    }
    void advance(Duration by) {
        now_ns_.fetch_add(std::chrono::duration_cast<TimePoint::duration>(by).count(),
                          std::memory_order_acq_rel);
    }

private:
    std::atomic<TimePoint::rep> now_ns_;
};

} // namespace macvmorx
