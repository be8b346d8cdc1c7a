#include "macvmorx/metrics/image_metrics.hpp"

#include "families.hpp"
#include "macvmorx/metrics/scrape.hpp"

#include <array>
#include <string>

namespace macvmorx::metrics {

using prometheus::MetricType;

void collect_images(Scrape& scrape, const std::vector<orchestrator::ImageStatus>& images,
                    const orchestrator::PullCounts& pulls) {
    auto holders = family("macvmorx_image_holders", "Online hosts that hold the image.", MetricType::Gauge);
    auto target = family("macvmorx_image_target_holders",
                         "Hosts that should hold the image: its peak demand at 2 VMs per host, a margin, an operator's "
                         "minHosts or a rollout's.",
                         MetricType::Gauge);
    auto pulling = family("macvmorx_image_pulling_hosts", "Hosts downloading the image now.", MetricType::Gauge);
    for (const auto& image : images) {
        sample(holders, {{"image", image.image_name}}, image.holders);
        sample(target, {{"image", image.image_name}}, image.target);
        sample(pulling, {{"image", image.image_name}}, image.pulling);
    }
    scrape.add(std::move(holders));
    scrape.add(std::move(target));
    scrape.add(std::move(pulling));
    auto pulls_ahead = family("macvmorx_image_pulls_ahead_of_demand_total",
                              "Pulls the daemon asked of idle hosts ahead of demand, by result: started, finished "
                              "(the host holds the image), failed.",
                              MetricType::Counter);
    sample(pulls_ahead, {{"result", "started"}}, static_cast<double>(pulls.started));
    sample(pulls_ahead, {{"result", "finished"}}, static_cast<double>(pulls.finished));
    sample(pulls_ahead, {{"result", "failed"}}, static_cast<double>(pulls.failed));
    scrape.add(std::move(pulls_ahead));
}

void collect_pending(Scrape& scrape, const std::vector<lifecycle::QueuedVm>& queue) {
    using lifecycle::PendingCode;
    constexpr std::array codes{PendingCode::no_nodes,       PendingCode::no_node_carries_labels,
                               PendingCode::tenant_at_cap,  PendingCode::behind_in_queue,
                               PendingCode::no_free_slot,   PendingCode::not_enough_memory,
                               PendingCode::all_offline,    PendingCode::all_draining,
                               PendingCode::labels_mismatch};
    std::array<std::size_t, codes.size()> counts{};
    for (const auto& queued : queue) ++counts[static_cast<std::size_t>(queued.reason.code)];
    auto pending = family("macvmorx_pending_vms", "VM requests waiting for a node, by why they wait (pendingReason's code).",
                          MetricType::Gauge);
    for (const auto code : codes) {
        sample(pending, {{"reason", lifecycle::to_string(code)}}, static_cast<double>(counts[static_cast<std::size_t>(code)]));
    }
    scrape.add(std::move(pending));
}

} // namespace macvmorx::metrics
