#pragma once

#include <string>
#include <vector>

namespace macvmorx::agent {

// Where the checks look: macOS's own tools and files, by default.
struct HostCheckOptions {
    std::string plutil = "plutil";
    std::string security = "security";
    // The Mac's DHCP server settings for its VMs (tart's docs/faq.md, "Changing the default DHCP
    // lease time").
    std::string internet_sharing_plist = "/Library/Preferences/SystemConfiguration/com.apple.InternetSharing.default.plist";
};

// What the agent checks of the Mac at start, each a warning fit for the log with what to do
// (docs/agent.md, "Host prerequisites"): the DHCP lease time (a day by default: about 250 new
// MAC addresses a day use up the pool, as Orchard warns at start, internal/worker/dhcpleasetime),
// the login keychain (macOS 15 starts no VM without it unlocked), registry credentials for a
// daemon (TART_REGISTRY_USERNAME and _PASSWORD, both or neither, EnvironmentCredentialsProvider
// .swift), and on macOS 15 the Local Network privacy that SSH to the guests needs. A check whose
// tool is missing (not a Mac) is skipped. These warn; a failure they foretell makes the node
// degraded when it happens.
//
// Threading: runs its commands and waits for them; call it before the agent starts.
std::vector<std::string> check_host_prerequisites(const HostCheckOptions& options = {});

} // namespace macvmorx::agent
