#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace macvmorx::api {

// How many long polls one token may hold open at once: a token that may speak for any node id
// could otherwise open four waits (the per-node bound) for every node id it makes up. Callers
// without a token (an open daemon) are bounded per node and by the connection limit only:
// behind one NAT address a lab's Macs are many.
//
// Threading: any thread.
class WaitBudget {
public:
    explicit WaitBudget(std::size_t per_token) : per_token_{per_token} {}

    // A share of the token's budget, given back when the returned handle is destroyed (with the
    // answer); null when the token holds all its waits.
    std::shared_ptr<void> take(const std::string& token_name);
    std::size_t per_token() const { return per_token_; }

private:
    std::size_t per_token_;
    std::mutex mutex_;
    std::unordered_map<std::string, std::size_t> held_;
};

} // namespace macvmorx::api
