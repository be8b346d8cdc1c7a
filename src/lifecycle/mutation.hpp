#pragma once

// The one way the lifecycle changes: VmLifecycle::mutate, and the Effects a change produces.
// Private to the lifecycle.

#include "macvmorx/lifecycle/vm_lifecycle.hpp"

#include <spdlog/spdlog.h>

#include <functional>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace macvmorx::lifecycle {

// What a change produced: the records it touched and how the queue moved, for notify() to tell
// the observers under the lock; log lines and replies to waiting agents, run after the mutex is
// released.
struct VmLifecycle::Effects {
    std::vector<std::pair<spdlog::level::level_enum, std::string>> logs;
    std::vector<std::function<void()>> replies;
    std::vector<std::string> touched; // records changed, for the observers
    enum class QueueChange { joined_back, joined_front, left };
    std::vector<std::pair<std::string, QueueChange>> queue_changes; // in order

    // Formatted only when the line will be written: this runs under the lifecycle's lock.
    template <typename... Args>
    void log(spdlog::level::level_enum level, fmt::format_string<Args...> format, Args&&... args) {
        if (spdlog::should_log(level)) logs.emplace_back(level, fmt::format(format, std::forward<Args>(args)...));
    }
    void touch(const std::string& vm_id) { touched.push_back(vm_id); }
    void run() {
        for (const auto& [level, line] : logs) spdlog::log(level, "{}", line);
        for (const auto& reply : replies) reply();
    }
};

template <typename Change>
auto VmLifecycle::mutate(Change&& change) {
    Effects effects;
    if constexpr (std::is_void_v<std::invoke_result_t<Change&, Effects&>>) {
        {
            std::lock_guard lock{mutex_};
            change(effects);
            notify(effects);
        }
        effects.run();
    } else {
        auto result = [&] {
            std::lock_guard lock{mutex_};
            auto changed = change(effects);
            notify(effects);
            return changed;
        }();
        effects.run();
        return result;
    }
}

} // namespace macvmorx::lifecycle
