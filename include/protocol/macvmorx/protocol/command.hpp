#pragma once

#include "macvmorx/base/clock.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace macvmorx::protocol {

enum class CommandType { create_vm, delete_vm, pull_image };

std::string_view to_string(CommandType type);

// Work for a host agent. Commands are idempotent: an agent that receives one again (it is
// re-sent until acknowledged) must not do the work twice.
struct Command {
    std::string id;
    CommandType type = CommandType::create_vm;
    std::string vm_id; // empty for pullImage
    // createVm and pullImage:
    std::string image_name;
    // pullImage only: images the agent must not evict to make room for this one (the daemon's
    // image distribution: the host is one of too few holders of each). An agent that cannot
    // make room without them does not pull.
    std::vector<std::string> keep_images;
    // createVm only:
    bool image_cached = false;
    std::optional<int> cpu;
    std::optional<double> memory_gb;
    std::string runner_config; // secret, see VmSpec::runner_config
    TimePoint created_at;
    std::optional<TimePoint> delivered_at; // first time an agent was sent it
};

} // namespace macvmorx::protocol
