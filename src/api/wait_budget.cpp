#include "macvmorx/api/wait_budget.hpp"

namespace macvmorx::api {

std::shared_ptr<void> WaitBudget::take(const std::string& token_name) {
    {
        std::lock_guard lock{mutex_};
        auto& held = held_[token_name];
        if (held >= per_token_) return nullptr;
        ++held;
    }
    // The handle gives the share back when the last copy of it goes (the answer was sent). It
    // points at the budget only to be non-null; the deleter deletes nothing.
    return std::shared_ptr<void>(static_cast<void*>(this), [this, token_name](void*) {
        std::lock_guard lock{mutex_};
        if (const auto it = held_.find(token_name); it != held_.end() && --it->second == 0) held_.erase(it);
    });
}

} // namespace macvmorx::api
