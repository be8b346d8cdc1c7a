#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace macvmorx::http {

class Session;

// The open connections, so that a shutdown can reach each of them and the listener can
// refuse connections beyond the limit.
//
// Locking: one mutex guards the map. Sessions add themselves when they start and remove
// themselves when destroyed; the shutdown path copies the list under the lock and then
// talks to each session outside it.
class ConnectionRegistry {
public:
    void add(Session* session, std::weak_ptr<Session> handle) {
        std::lock_guard lock{mutex_};
        sessions_.emplace(session, std::move(handle));
    }
    void remove(Session* session) {
        std::lock_guard lock{mutex_};
        sessions_.erase(session);
    }
    std::size_t size() const {
        std::lock_guard lock{mutex_};
        return sessions_.size();
    }
    std::vector<std::shared_ptr<Session>> live_sessions() const {
        std::vector<std::shared_ptr<Session>> live;
        std::lock_guard lock{mutex_};
        for (const auto& [raw, handle] : sessions_) {
            if (auto session = handle.lock()) live.push_back(std::move(session));
        }
        return live;
    }

private:
    mutable std::mutex mutex_;
    std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
};

} // namespace macvmorx::http
