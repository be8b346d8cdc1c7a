#pragma once

// The changes a commit writes: the latest copy of each record changed since the last commit (or
// its removal), and the queue's and deliveries' changes in order. Private to storage.

#include "macvmorx/actions/job_record.hpp"
#include "macvmorx/fleet/node_record.hpp"
#include "macvmorx/lifecycle/vm_record.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace macvmorx::storage {

struct RecordBatch {
    std::map<std::string, std::optional<lifecycle::VmRecord>> vms; // the latest copy, or removed
    // The queue's changes, in order: a row added at the front or the back, or one removed.
    enum class QueueChange { joined_back, joined_front, left };
    std::vector<std::pair<std::string, QueueChange>> queue;
    std::map<std::string, std::optional<fleet::NodeSettings>> nodes;
    std::map<std::int64_t, std::optional<actions::JobRecord>> jobs;
    std::vector<std::pair<std::string, bool>> deliveries; // remembered (true) or forgotten, in order
    std::map<std::string, int> image_pins; // the latest minHosts of each image pinned; 0 removes the pin

    bool empty() const {
        return vms.empty() && queue.empty() && nodes.empty() && jobs.empty() && deliveries.empty() && image_pins.empty();
    }

    // Puts `newer` over this (an older batch that failed to commit): newer copies win, ordered
    // changes keep their order.
    void merge_newer(RecordBatch&& newer) {
        newer.vms.merge(vms);
        vms = std::move(newer.vms);
        queue.insert(queue.end(), newer.queue.begin(), newer.queue.end());
        newer.nodes.merge(nodes);
        nodes = std::move(newer.nodes);
        newer.jobs.merge(jobs);
        jobs = std::move(newer.jobs);
        deliveries.insert(deliveries.end(), newer.deliveries.begin(), newer.deliveries.end());
        newer.image_pins.merge(image_pins);
        image_pins = std::move(newer.image_pins);
    }
};

// Where the queue's rows sit: a request joins before the first or after the last, so that no
// other row moves. A backend keeps the ends it has committed.
struct QueueEnds {
    std::int64_t front = 0;
    std::int64_t back = 0;
};

} // namespace macvmorx::storage
