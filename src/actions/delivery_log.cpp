#include "delivery_log.hpp"

#include "macvmorx/actions/job_observer.hpp"

namespace macvmorx::actions {

bool DeliveryLog::remember(const std::string& delivery_id, JobObserver* observer) {
    if (!seen_.insert(delivery_id).second) return false;
    order_.push_back(delivery_id);
    if (observer != nullptr) observer->delivery_remembered(delivery_id);
    while (order_.size() > capacity_) {
        if (observer != nullptr) observer->delivery_forgotten(order_.front());
        seen_.erase(order_.front());
        order_.pop_front();
    }
    return true;
}

void DeliveryLog::restore(const std::vector<std::string>& delivery_ids) {
    for (const auto& delivery : delivery_ids) {
        if (seen_.insert(delivery).second) order_.push_back(delivery);
    }
}

} // namespace macvmorx::actions
