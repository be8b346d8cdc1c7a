#include "macvmorx/protocol/heartbeat.hpp"

namespace macvmorx::protocol {

std::size_t Heartbeat::text_bytes() const {
    std::size_t bytes = node_id.size() + status.size() + status_reason.size() + agent_instance.size() + peer_url.size();
    for (const auto& vm : vms) bytes += vm.vm_id.size() + vm.image_name.size() + vm.vm_hostname.size() + vm.vm_ip_address.size();
    for (const auto& image : cached_images) bytes += image.size();
    for (const auto& image : pulling_images) bytes += image.size();
    for (const auto& label : labels) bytes += label.key.size() + label.value.size();
    return bytes;
}

} // namespace macvmorx::protocol
