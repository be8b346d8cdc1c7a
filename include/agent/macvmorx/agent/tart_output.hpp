#pragma once

#include "macvmorx/agent/vm_backend.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace macvmorx::agent {

// Reading what tart and ssh print, each rule beside the source it comes from. Pure functions:
// the tart backend acts on them, the unit tests pin them.

// The percentage a line of `tart pull`'s output gives ("42%", escape codes around it on a
// terminal; Logging/ProgressObserver.swift); nullopt for any other line.
std::optional<int> pull_percent(std::string_view line);

// Whether tart's output says macOS refused another VM: its limit of two is held. tart's own
// words (RuntimeError.VirtualMachineLimitExceeded, VMStorageHelper.swift, thrown by Run.swift),
// and Virtualization.framework's, which older tarts printed.
bool is_vm_limit_error(std::string_view output);

// The problem of the host, not of the VM, that tart's failure to start a VM shows: the VM limit,
// or a locked login keychain (tart's docs/faq.md, "Headless machines": macOS 15 needs one
// unlocked to start a VM).
HostProblem host_problem_in(std::string_view output);

// The line of `tart run`'s output that says the VM stopped by an error, although tart then
// exits 0 (VM.swift's didStopWithError and attachmentWasDisconnectedWithError signal the run
// to end as a shutdown does, Run.swift); nullopt when it shut down cleanly.
std::optional<std::string> vm_crash_in(std::string_view output);

// Whether a failed `tart pull` was refused by the registry for want of credentials (401/403,
// Registry.swift's AuthFailed and UnexpectedHTTPStatusCode).
bool is_registry_auth_error(std::string_view output);

// ssh exits 255 when it cannot connect, or loses the connection (ssh(1), EXIT STATUS).
constexpr int ssh_connection_failed = 255;
// Whether ssh's words say the host was unreachable in the way macOS 15 reports a connection its
// Local Network privacy refused (EHOSTUNREACH, Apple's TN3179).
bool is_no_route_to_host(std::string_view output);

// One entry of `tart list --format json` (Commands/List.swift's VMInfo).
struct TartListEntry {
    std::string name;
    bool oci = false;      // Source "OCI": a pulled image; else "local": a VM (or local image)
    double size_gb = 0;    // Size: the space it takes on disk, in GB
    bool running = false;  // Running, or State "running"
};

// `tart list --format json`'s standard output; nullopt when it is not that JSON array (tart
// prints warnings on standard error, never here: they must not read as an empty host).
std::optional<std::vector<TartListEntry>> parse_tart_list(std::string_view output);

// Whether an OCI entry of `tart list` names its image by digest ("repo@sha256:..."): the storage
// itself. A tag ("repo:tag") is a link to one of those (VMStorageOCI.swift).
bool is_digest_name(std::string_view name);

// What GitHub's runner listener meant by exiting `status` (actions/runner's Constants.cs,
// ReturnCode): for a VM whose runner ended so.
std::string runner_exit_reason(int status);

// The last line of a text, without its line end.
std::string last_line_of(std::string_view text);

} // namespace macvmorx::agent
