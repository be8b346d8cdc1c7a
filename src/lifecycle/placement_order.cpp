#include "placement_order.hpp"

#include <algorithm>
#include <map>
#include <unordered_map>

namespace macvmorx::lifecycle {

namespace {

// A request's priority raised by waiting, to the highest priority among those asked for (`asked`,
// ascending) that it reaches: ageing lets a request join a higher priority's requests, never set
// it apart from its own. (Raised by one level per interval alone, a flood's older requests would
// outrank a neighbour's newer ones of the same priority, and fair share would not hold.)
int aged_priority(const WaitingRequest& request, const QueueOptions& options, TimePoint now,
                  const std::vector<int>& asked) {
    if (options.priority_aging <= Duration::zero() || now <= request.since) return request.priority;
    const auto levels = std::min<std::int64_t>((now - request.since) / options.priority_aging, 1'000'000);
    const auto reached = request.priority + levels;
    const auto above = std::upper_bound(asked.begin(), asked.end(), reached);
    return std::max(request.priority, *std::prev(above)); // `asked` holds request.priority itself
}

// One tenant's requests within one priority, oldest first, and its virtual use: the VMs it has
// plus the requests already given a place in the order.
struct TenantLine {
    std::vector<std::size_t> requests;
    std::size_t next = 0;
    double used = 0;
    double weight = 1;
    std::optional<int> cap;
};

} // namespace

std::vector<OrderedRequest> placement_order(const std::vector<WaitingRequest>& requests, const QueueOptions& options,
                                            const std::function<int(std::string_view tenant)>& in_use, TimePoint now) {
    std::vector<OrderedRequest> order;
    order.reserve(requests.size());
    std::vector<OrderedRequest> capped;

    // Priorities, highest first; within each, the requests in arrival order.
    std::map<int, std::vector<std::size_t>, std::greater<>> by_priority;
    std::vector<int> asked;
    asked.reserve(requests.size());
    for (const auto& request : requests) asked.push_back(request.priority);
    std::sort(asked.begin(), asked.end());
    asked.erase(std::unique(asked.begin(), asked.end()), asked.end());
    std::vector<int> effective(requests.size());
    for (std::size_t i = 0; i < requests.size(); ++i) {
        effective[i] = aged_priority(requests[i], options, now, asked);
        by_priority[effective[i]].push_back(i);
    }

    // What each tenant has placed, and what this order gives it: shared by every priority, since
    // a tenant's cap and its share count all its VMs.
    std::unordered_map<std::string_view, double> given;
    const auto used_by = [&](std::string_view tenant) -> double& {
        auto [it, inserted] = given.try_emplace(tenant, 0.0);
        if (inserted) it->second = in_use(tenant);
        return it->second;
    };
    const auto at_cap = [&](std::string_view tenant) {
        const auto& cap = options.policy(tenant).max_vms;
        return cap && used_by(tenant) >= *cap;
    };
    const auto take = [&](std::size_t i) {
        const auto tenant = requests[i].tenant;
        if (at_cap(tenant)) {
            capped.push_back({i, effective[i], true});
            return;
        }
        used_by(tenant) += 1;
        order.push_back({i, effective[i], false});
    };

    for (auto& [priority, indexes] : by_priority) {
        if (!options.fair_share) {
            for (const auto i : indexes) take(i);
            continue;
        }
        // Weighted fair share: the next place goes to the tenant whose use, over its weight, is
        // the lowest; a tie to the tenant whose oldest request came first.
        std::map<std::string_view, TenantLine> lines;
        for (const auto i : indexes) lines[requests[i].tenant].requests.push_back(i);
        std::vector<TenantLine*> open;
        for (auto& [tenant, line] : lines) {
            line.weight = std::max(options.policy(tenant).weight, 1e-6);
            open.push_back(&line);
        }
        while (!open.empty()) {
            const auto best = std::min_element(open.begin(), open.end(), [&](TenantLine* a, TenantLine* b) {
                const double share_a = used_by(requests[a->requests[a->next]].tenant) / a->weight;
                const double share_b = used_by(requests[b->requests[b->next]].tenant) / b->weight;
                if (share_a != share_b) return share_a < share_b;
                return a->requests[a->next] < b->requests[b->next];
            });
            TenantLine& line = **best;
            take(line.requests[line.next++]);
            if (line.next == line.requests.size()) open.erase(best);
        }
    }
    order.insert(order.end(), capped.begin(), capped.end());
    return order;
}

} // namespace macvmorx::lifecycle
