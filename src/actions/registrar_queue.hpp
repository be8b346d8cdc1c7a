#pragma once

#include "macvmorx/base/clock.hpp"

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>

namespace macvmorx::actions {

// A call to GitHub the registrar worker owes, and when it is due.
struct RegistrarTask {
    // retire_if_idle: a running runner no longer wanted goes only if GitHub lists it as not
    // busy (a JIT runner may have just been given a job).
    enum class Kind { register_runner, remove_runner, retire_if_idle } kind;
    TimePoint due;
    std::string vm_id; // register, retire_if_idle
    std::string pool;  // remove
    std::int64_t runner_id = 0;
    int attempt = 0;
};

// The calls to GitHub waiting for the worker, in the order they were asked for. While GitHub
// limits the rate (until `paused_until`) none is due, whatever its own time.
//
// Not locked: WorkflowJobs' mutex guards it.
class RegistrarQueue {
public:
    void push(RegistrarTask task) { tasks_.push_back(std::move(task)); }
    // Takes out the first task, in the order asked, that is due by `now`.
    std::optional<RegistrarTask> take_due(TimePoint now, TimePoint paused_until);
    bool any_due(TimePoint now) const;
    // When the worker should look again: the earliest task (not before `paused_until`). Tells
    // the clock of every task's time, so that a test's clock knows who waits for what.
    std::optional<TimePoint> next_due(TimePoint paused_until, const Clock& clock) const;
    std::size_t size() const { return tasks_.size(); }

private:
    std::deque<RegistrarTask> tasks_;
};

} // namespace macvmorx::actions
