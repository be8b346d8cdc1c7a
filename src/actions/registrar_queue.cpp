#include "registrar_queue.hpp"

#include <algorithm>

namespace macvmorx::actions {

std::optional<RegistrarTask> RegistrarQueue::take_due(TimePoint now, TimePoint paused_until) {
    if (now < paused_until) return std::nullopt;
    const auto due = std::find_if(tasks_.begin(), tasks_.end(), [now](const RegistrarTask& t) { return t.due <= now; });
    if (due == tasks_.end()) return std::nullopt;
    auto task = std::move(*due);
    tasks_.erase(due);
    return task;
}

bool RegistrarQueue::any_due(TimePoint now) const {
    return std::any_of(tasks_.begin(), tasks_.end(), [now](const RegistrarTask& t) { return t.due <= now; });
}

std::optional<TimePoint> RegistrarQueue::next_due(TimePoint paused_until, const Clock& clock) const {
    std::optional<TimePoint> next;
    for (const auto& task : tasks_) {
        const auto due = std::max(task.due, paused_until);
        if (!next || due < *next) next = due;
        clock.expect_wake_up(due);
    }
    return next;
}

} // namespace macvmorx::actions
