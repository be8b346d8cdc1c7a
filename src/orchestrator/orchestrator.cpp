#include "macvmorx/orchestrator/orchestrator.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace macvmorx::orchestrator {

Orchestrator::Orchestrator(OrchestratorOptions options, const Clock& clock, IdSource& ids)
    : clock_{clock},
      scheduler_{options.scheduling},
      lifecycle_{options.lifecycle, scheduler_, clock_, ids},
      monitor_{store_, clock_, options.offline_timeout},
      images_{[&options] {
          auto images = options.images;
          images.max_vms_per_node = options.scheduling.max_vms_per_node;
          return images;
      }()},
      placement_tap_{images_, history_, clock_} {
    lifecycle_.add_observer(&placement_tap_);
}

HeartbeatOutcome Orchestrator::record_heartbeat(protocol::Heartbeat heartbeat) {
    history_.heartbeat();
    HeartbeatOutcome outcome;
    const TimePoint now = clock_.now();
    auto record = std::make_shared<fleet::NodeRecord>();
    record->report = std::move(heartbeat);
    record->last_seen = now;
    record->online = true;
    const std::string& node_id = record->node_id();

    store_.update(node_id, [&](fleet::NodeSnapshot& slot) {
        record->first_seen = slot ? slot->first_seen : now;
        if (slot) {
            record->drained = slot->drained;
            record->operator_labels = slot->operator_labels;
        } else {
            std::lock_guard lock{restored_settings_mutex_};
            if (const auto it = restored_settings_.find(node_id); it != restored_settings_.end()) {
                record->drained = it->second.drained;
                record->operator_labels = it->second.operator_labels;
                restored_settings_.erase(it);
            }
        }
        record->revision = slot ? slot->revision + 1 : 1;
        outcome.new_node = !slot;
        outcome.back_online = slot && !slot->online;
        slot = record;
    });
    outcome.commands = lifecycle_.on_heartbeat(record);
    images_.observe(*record, now);

    if (outcome.new_node) {
        spdlog::info("node {} registered (status {}, {} VMs, {} cached images)", node_id, record->report.status,
                     record->report.running_vms(), record->report.cached_images.size());
    } else if (outcome.back_online) {
        spdlog::info("node {} is back online", node_id);
    }
    return outcome;
}

bool Orchestrator::wait_for_commands(std::string_view node_id, Duration wait, lifecycle::CommandsReply reply,
                                     std::function<bool()> abandoned) {
    if (!store_.find(node_id)) return false;
    lifecycle_.wait_for_commands(node_id, clock_.now() + wait, std::move(reply), std::move(abandoned));
    return true;
}

fleet::NodeSnapshot Orchestrator::republish(std::string_view node_id,
                                            const std::function<void(fleet::NodeRecord&)>& change) {
    fleet::NodeSnapshot published;
    store_.update(node_id, [&](fleet::NodeSnapshot& slot) {
        if (!slot) return;
        auto copy = std::make_shared<fleet::NodeRecord>(*slot);
        change(*copy);
        ++copy->revision;
        slot = copy;
        published = std::move(copy);
    });
    if (published) lifecycle_.on_node_changed(published);
    return published;
}

void Orchestrator::settings_changed(const fleet::NodeRecord& node) {
    if (settings_observer_ != nullptr) {
        settings_observer_->node_settings_changed({node.node_id(), node.drained, node.operator_labels});
    }
}

fleet::NodeSnapshot Orchestrator::set_drained(std::string_view node_id, bool drained) {
    const auto before = store_.find(node_id);
    auto record = republish(node_id, [drained](fleet::NodeRecord& node) { node.drained = drained; });
    if (record && before && before->drained != drained) {
        spdlog::info("node {} {}", node_id, drained ? "drained: no new VMs; its VMs run to the end" : "undrained");
        settings_changed(*record);
    }
    return record;
}

fleet::NodeSnapshot Orchestrator::set_operator_labels(std::string_view node_id, protocol::Labels labels) {
    protocol::normalize(labels);
    auto record = republish(node_id, [&labels](fleet::NodeRecord& node) { node.operator_labels = labels; });
    if (record) {
        spdlog::info("node {}: operator labels set to {}", node_id,
                     labels.empty() ? std::string{"none"} : protocol::to_string(labels));
        settings_changed(*record);
    }
    return record;
}

void Orchestrator::restore(std::vector<lifecycle::VmRecord> vms, const std::vector<std::string>& queue,
                           std::vector<fleet::NodeSettings> settings, const std::map<std::string, int>& image_pins) {
    lifecycle_.restore(std::move(vms), queue);
    for (const auto& [image, min_hosts] : image_pins) images_.pin(image, min_hosts);
    std::lock_guard lock{restored_settings_mutex_};
    for (auto& node : settings) restored_settings_[node.node_id] = std::move(node);
}

NodeOperation Orchestrator::forget_node(std::string_view node_id) {
    NodeOperation result = NodeOperation::unknown_node;
    store_.update(node_id, [&](fleet::NodeSnapshot& slot) {
        if (!slot) return;
        if (slot->online) {
            result = NodeOperation::node_online;
            return;
        }
        slot.reset();
        result = NodeOperation::done;
    });
    if (result == NodeOperation::done) {
        lifecycle_.on_node_forgotten(node_id);
        images_.forget_node(std::string(node_id));
        if (settings_observer_ != nullptr) settings_observer_->node_settings_removed(std::string(node_id));
        spdlog::info("node {} forgotten", node_id);
    }
    return result;
}

FleetSummary Orchestrator::summary() const {
    FleetSummary summary;
    store_.for_each([&summary](const fleet::NodeSnapshot& node) {
        ++summary.nodes;
        ++(node->online ? summary.online : summary.offline);
        if (node->drained || !fleet::status_accepts_new_vms(node->report.status)) ++summary.drained;
        if (fleet::accepts_new_vms(*node)) ++summary.accepting_vms;
    });
    summary.capacity = scheduler_.capacity();
    summary.vms = lifecycle_.counts();
    return summary;
}

void Orchestrator::sweep() {
    for (const auto& record : monitor_.sweep()) {
        lifecycle_.on_node_changed(record);
        images_.observe(*record, clock_.now());
    }
    lifecycle_.sweep();
    distribute_images();
    sample_history();
}

void Orchestrator::sample_history() {
    const auto now = clock_.now();
    if (!history_.due(now)) return;
    const auto fleet = summary();
    FleetSample sample;
    sample.at = now;
    sample.nodes_online = static_cast<std::uint32_t>(fleet.online);
    sample.nodes_offline = static_cast<std::uint32_t>(fleet.offline);
    sample.slots_total = static_cast<std::uint32_t>(fleet.capacity.total_slots);
    sample.slots_used = static_cast<std::uint32_t>(fleet.capacity.total_slots - fleet.capacity.free_slots);
    sample.queue_length = static_cast<std::uint32_t>(fleet.vms.queued);
    history_.record(sample);
}

void Orchestrator::distribute_images() {
    std::map<std::string, ImageLoad, std::less<>> load;
    {
        std::lock_guard lock{pool_load_mutex_};
        load = pool_load_;
    }
    for (const auto& [image, use] : lifecycle_.image_use()) {
        auto& entry = load[image];
        entry.vms_in_use = use.vms_in_use;
        entry.queued = use.queued;
    }
    // Unsorted: the plan orders what it chooses among by itself.
    std::vector<fleet::NodeSnapshot> nodes;
    nodes.reserve(store_.size());
    store_.for_each([&nodes](const fleet::NodeSnapshot& node) { nodes.push_back(node); });
    for (auto& order : images_.plan(nodes, load, clock_.now())) {
        lifecycle_.send_pull(order.node_id, order.image_name, std::move(order.keep_images));
    }
    for (const auto& [node_id, image] : images_.take_failed_pulls()) lifecycle_.withdraw_pull(node_id, image);
}

bool Orchestrator::image_known(std::string_view image) const {
    if (images_.known(image)) return true;
    // Heard of since the last sweep: a heartbeat, a placement.
    bool known = false;
    const auto names = [image](const std::vector<std::string>& list) {
        return std::find(list.begin(), list.end(), image) != list.end();
    };
    store_.for_each([&](const fleet::NodeSnapshot& node) {
        known = known || names(node->report.cached_images) || names(node->report.pulling_images);
    });
    if (known) return true;
    const auto use = lifecycle_.image_use();
    return use.find(image) != use.end();
}

void Orchestrator::pin_image(const std::string& image, int min_hosts) {
    images_.pin(image, min_hosts);
    if (settings_observer_ != nullptr) settings_observer_->image_pinned(image, min_hosts);
    spdlog::info("image {}: {}", image,
                 min_hosts > 0 ? fmt::format("at least {} hosts hold it (pinned)", min_hosts) : std::string{"pin removed"});
}

void Orchestrator::set_pool_load(std::map<std::string, ImageLoad, std::less<>> load) {
    std::lock_guard lock{pool_load_mutex_};
    pool_load_ = std::move(load);
}

} // namespace macvmorx::orchestrator
