#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <unordered_set>
#include <vector>

namespace macvmorx::actions {

class JobObserver;

// The X-GitHub-Delivery ids seen lately, so that a redelivery changes nothing: the newest
// `capacity` of them, the oldest forgotten first. The observer (durable records) hears of each
// id remembered and forgotten.
//
// Not locked: WorkflowJobs' mutex guards it.
class DeliveryLog {
public:
    explicit DeliveryLog(std::size_t capacity) : capacity_{capacity} {}

    // False when the id was seen before. `observer` may be null.
    bool remember(const std::string& delivery_id, JobObserver* observer);
    // The ids of an earlier run, oldest first: the observer has them already.
    void restore(const std::vector<std::string>& delivery_ids);
    bool contains(const std::string& delivery_id) const { return seen_.contains(delivery_id); }
    std::size_t size() const { return order_.size(); }

private:
    std::size_t capacity_;
    std::unordered_set<std::string> seen_;
    std::deque<std::string> order_; // oldest first
};

} // namespace macvmorx::actions
