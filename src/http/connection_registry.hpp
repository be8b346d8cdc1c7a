#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace macvmorx::http {

class HttpSession;

// The open connections, so that a shutdown can reach each of them and the listener can
// refuse connections beyond the limit.
//
// Locking: one mutex guards the map. Sessions add themselves when they start and remove
// themselves when destroyed; the shutdown path copies the list under the lock and then
// talks to each session outside it.
class ConnectionRegistry {
public:
    void add(HttpSession* session, std::weak_ptr<HttpSession> handle) {
        std::lock_guard lock{mutex_};
        sessions_.emplace(session, std::move(handle));
    }
    void remove(HttpSession* session) {
        std::lock_guard lock{mutex_};
        sessions_.erase(session);
    }
    std::size_t size() const {
        std::lock_guard lock{mutex_};
        return sessions_.size();
    }
    std::vector<std::shared_ptr<HttpSession>> live_sessions() const {
        std::vector<std::shared_ptr<HttpSession>> live;
        std::lock_guard lock{mutex_};
        for (const auto& [raw, handle] : sessions_) {
            if (auto session = handle.lock()) live.push_back(std::move(session));
        }
        return live;
    }

private:
    mutable std::mutex mutex_;
    std::unordered_map<HttpSession*, std::weak_ptr<HttpSession>> sessions_;
};

} // namespace macvmorx::http
