#pragma once

// The order in which waiting requests are placed: by priority (a request that waited long joins
// the requests of a higher priority, so that none waits forever), then, within a priority, by
// weighted fair share between tenants, first come first served within a tenant. Private to the
// lifecycle; a pure function of its inputs.

#include "macvmorx/lifecycle/pending_reason.hpp"

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace macvmorx::lifecycle {

struct WaitingRequest {
    int priority = 0;
    std::string_view tenant;
    TimePoint since; // when it was asked for
};

struct OrderedRequest {
    std::size_t index = 0;       // into the requests given, which are in arrival order
    int effective_priority = 0;  // its priority raised by ageing
    bool tenant_at_cap = false;  // its tenant has maxVms placed, counting the requests before it
};

// `in_use(tenant)`: the tenant's VMs placed now (assigned to a node and not ended). Requests of a
// tenant at its cap come last, in their order: they cannot be placed until one of its VMs ends.
std::vector<OrderedRequest> placement_order(const std::vector<WaitingRequest>& requests, const QueueOptions& options,
                                            const std::function<int(std::string_view tenant)>& in_use, TimePoint now);

} // namespace macvmorx::lifecycle
