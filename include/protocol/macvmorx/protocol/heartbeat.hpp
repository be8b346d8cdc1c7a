#pragma once

#include "macvmorx/protocol/labels.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace macvmorx::protocol {

// One VM as a host agent reports it.
struct VmReport {
    std::string vm_id;
    std::string image_name;
    std::int64_t runtime_seconds = 0;
    std::string vm_hostname;
    std::string vm_ip_address;

    bool operator==(const VmReport&) const = default;
};

// Everything a host agent says about its Mac in one heartbeat. Replaces the previous report.
struct Heartbeat {
    std::string node_id;
    int vm_count = 0;
    std::vector<VmReport> vms;
    double cpu_usage_percent = 0;
    double memory_usage_gb = 0;
    double total_memory_gb = 0;
    double disk_usage_gb = 0;
    double total_disk_gb = 0;
    std::string status;
    // Why the host is in that status, in words for an operator ("the login keychain is
    // locked: ..."); empty when the agent gives no reason. Mostly set with "degraded".
    std::string status_reason;
    std::vector<std::string> cached_images;
    // Images the agent is downloading now, for a VM or because the daemon asked it to pull
    // ahead of demand (pullImage): a pull that leaves this list without reaching cachedImages
    // failed.
    std::vector<std::string> pulling_images;
    Labels labels; // what the host offers, e.g. arch=arm64, xcode=16.1
    // Chosen afresh each time the agent starts. A new one means the agent restarted and
    // forgot the VMs it was making but does not list (docs/agent-protocol.md).
    std::string agent_instance;
    // Where the agent serves the bucket images it holds to the other Macs of its lab
    // (docs/agent-protocol.md, "Peers"); empty when it serves none.
    std::string peer_url;

    // The bytes of text the daemon keeps for this report: what one host can make it hold, and
    // what the per-host budget bounds (docs/security.md).
    std::size_t text_bytes() const;

    // The number of VMs that occupy the host's slots. Agents report both a count and a
    // list; trusting the larger one never over-books a host.
    int running_vms() const { return std::max(vm_count, static_cast<int>(vms.size())); }

    bool operator==(const Heartbeat&) const = default;
};

} // namespace macvmorx::protocol
