#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>

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
    // A thread of the daemon will look at the clock again at `when` (a retry armed). Nothing for
    // the system clock; a test's clock keeps it, so that a test moves time only once the wait it
    // means to end exists (else the wait is armed after the move, from the moved time).
    virtual void expect_wake_up(TimePoint /*when*/) const {}
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
    void expect_wake_up(TimePoint when) const override {
        std::lock_guard lock{mutex_};
        wake_ups_.insert(when);
    }
    // Whether some thread has said it will look at the clock again at `when`.
    bool wake_up_expected_at(TimePoint when) const {
        std::lock_guard lock{mutex_};
        return wake_ups_.contains(when);
    }

private:
    std::atomic<TimePoint::rep> now_ns_;
    mutable std::mutex mutex_;
    mutable std::set<TimePoint> wake_ups_;
};

} // namespace macvmorx
