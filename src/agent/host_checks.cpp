#include "macvmorx/agent/host_checks.hpp"

#include "macvmorx/agent/process_runner.hpp"
#include "macvmorx/agent/tart_output.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdlib>
#include <optional>

#ifdef __APPLE__
#include <sys/sysctl.h>
#endif

namespace macvmorx::agent {
namespace {

// Runs one short command to its end; nullopt when it could not run at all (no such tool).
std::optional<ProcessResult> run_now(std::vector<std::string> argv) {
    boost::asio::io_context ioc;
    std::optional<ProcessResult> result;
    {
        auto work = boost::asio::make_work_guard(ioc); // until the result is posted
        ProcessRunner runner{ioc};
        runner.start({std::move(argv), {}, std::chrono::seconds{10}, {}}, [&result, &work](ProcessResult r) {
            result = std::move(r);
            work.reset();
        });
        ioc.run();
    }
    if (!result || (result->exit_code < 0 && !result->timed_out)) return std::nullopt;
    return result;
}

constexpr const char* lease_advice =
    ": a host that starts ~250 VMs a day uses up the DHCP pool and VMs get no address. Lower it: sudo defaults write "
    "/Library/Preferences/SystemConfiguration/com.apple.InternetSharing.default.plist bootpd -dict DHCPLeaseTimeSecs "
    "-int 600 (tart's FAQ; docs/agent.md)";

void check_lease_time(const HostCheckOptions& options, std::vector<std::string>& warnings) {
    const auto lease = run_now({options.plutil, "-extract", "bootpd.DHCPLeaseTimeSecs", "raw", "-o", "-",
                                options.internet_sharing_plist});
    if (!lease) return;
    if (!lease->ok()) {
        warnings.push_back(std::string{"the VMs' DHCP lease time is macOS's default of one day"} + lease_advice);
        return;
    }
    const std::string value = last_line_of(lease->output);
    char* end = nullptr;
    const long seconds = std::strtol(value.c_str(), &end, 10);
    if (end == value.c_str() || seconds <= 0) {
        warnings.push_back("the VMs' DHCP lease time reads '" + value + "'" + lease_advice);
    } else if (seconds > 3600) {
        warnings.push_back("the VMs' DHCP lease time is " + std::to_string(seconds) + " seconds, over an hour" +
                           lease_advice);
    }
}

void check_keychain(const HostCheckOptions& options, std::vector<std::string>& warnings) {
    const auto keychain = run_now({options.security, "show-keychain-info", "login.keychain"});
    if (!keychain || keychain->ok()) return;
    warnings.push_back("the login keychain is locked or missing (" + last_line_of(keychain->errors + keychain->output) +
                       "): macOS 15 starts no VM without it unlocked. Log in once on the Mac's screen with automatic "
                       "login, or run `security unlock-keychain login.keychain` as this user (tart's FAQ; docs/agent.md)");
}

void check_registry_credentials(std::vector<std::string>& warnings) {
    const bool user = std::getenv("TART_REGISTRY_USERNAME") != nullptr;
    const bool password = std::getenv("TART_REGISTRY_PASSWORD") != nullptr;
    if (user != password) {
        warnings.push_back(std::string{"only "} + (user ? "TART_REGISTRY_USERNAME" : "TART_REGISTRY_PASSWORD") +
                           " is set: tart takes registry credentials from its environment only when both are "
                           "(docs/agent.md)");
    }
}

void check_local_network(std::vector<std::string>& warnings) {
#ifdef __APPLE__
    char version[32] = {};
    std::size_t size = sizeof version - 1;
    if (sysctlbyname("kern.osproductversion", version, &size, nullptr, 0) != 0) return;
    if (std::atoi(version) < 15) return;
    warnings.push_back(std::string{"macOS "} + version +
                       " asks once whether this program may reach devices on the local network, its VMs among them: "
                       "until it is allowed (System Settings > Privacy & Security > Local Network), SSH to the guests "
                       "fails with 'No route to host' and the node is reported degraded (docs/agent.md)");
#else
    (void)warnings;
#endif
}

} // namespace

std::vector<std::string> check_host_prerequisites(const HostCheckOptions& options) {
    std::vector<std::string> warnings;
    check_lease_time(options, warnings);
    check_keychain(options, warnings);
    check_registry_credentials(warnings);
    check_local_network(warnings);
    return warnings;
}

} // namespace macvmorx::agent
