#include "macvmorx/agent/tart_output.hpp"

#include "macvmorx/base/ascii.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

namespace macvmorx::agent {
namespace {

bool contains(std::string_view text, std::string_view words) { return text.find(words) != std::string_view::npos; }

} // namespace

std::optional<int> pull_percent(std::string_view line) {
    std::string text;
    for (std::size_t i = 0; i < line.size(); ++i) {
        if (line[i] == '\x1B') {
            // An escape sequence of the interactive meter (ESC [ K): skip to its final letter.
            while (i < line.size() && !std::isalpha(static_cast<unsigned char>(line[i]))) ++i;
            continue;
        }
        if (!std::isspace(static_cast<unsigned char>(line[i]))) text += line[i];
    }
    if (text.size() < 2 || text.size() > 4 || text.back() != '%') return std::nullopt;
    int percent = 0;
    for (std::size_t i = 0; i + 1 < text.size(); ++i) {
        if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
        percent = percent * 10 + (text[i] - '0');
    }
    if (percent > 100) return std::nullopt;
    return percent;
}

bool is_vm_limit_error(std::string_view output) {
    const std::string text = ascii_lower(output);
    // tart: "The number of VMs exceeds the system limit (other running VMs: ...)".
    // Virtualization.framework (VZErrorVirtualMachineLimitExceeded), as older tarts passed it on:
    // "The number of virtual machines exceeds the limit the system supports."
    // An NSError printed bare: VZErrorDomain's code 6 is VZErrorVirtualMachineLimitExceeded.
    return contains(text, "exceeds the system limit") || contains(text, "exceeds the limit the system supports") ||
           contains(text, "vzerrordomain code=6");
}

HostProblem host_problem_in(std::string_view output) {
    if (is_vm_limit_error(output)) return HostProblem::vm_limit;
    // The errors tart's FAQ lists for a VM started without an unlocked login keychain.
    const std::string text = ascii_lower(output);
    if (contains(text, "seckeycreaterandomkey_ios failed") || contains(text, "failed to generate keypair") ||
        contains(text, "interaction is not allowed with the security server")) {
        return HostProblem::keychain_locked;
    }
    return HostProblem::none;
}

std::optional<std::string> vm_crash_in(std::string_view output) {
    std::size_t start = 0;
    while (start < output.size()) {
        auto end = output.find('\n', start);
        if (end == std::string_view::npos) end = output.size();
        const std::string_view line = output.substr(start, end - start);
        // VM.swift: "guest has stopped the virtual machine due to error: ...", and "virtual
        // machine's network attachment ... has been disconnected with error: ...".
        if (contains(line, "stopped the virtual machine due to error") ||
            (contains(line, "network attachment") && contains(line, "disconnected with error"))) {
            return last_line_of(line);
        }
        start = end + 1;
    }
    return std::nullopt;
}

bool is_registry_auth_error(std::string_view output) {
    const std::string text = ascii_lower(output);
    return contains(text, "code: 401") || contains(text, "code: 403") || contains(text, "authfailed") ||
           contains(text, "unauthorized") || contains(text, "\"denied\"") ||
           contains(text, "authentication required");
}

bool is_no_route_to_host(std::string_view output) { return contains(ascii_lower(output), "no route to host"); }

std::optional<std::vector<TartListEntry>> parse_tart_list(std::string_view output) {
    const auto document = nlohmann::json::parse(output, nullptr, false);
    if (!document.is_array()) return std::nullopt;
    std::vector<TartListEntry> entries;
    for (const auto& item : document) {
        if (!item.is_object()) continue;
        TartListEntry entry;
        const auto name = item.find("Name");
        if (name == item.end() || !name->is_string() || name->get<std::string>().empty()) continue;
        entry.name = name->get<std::string>();
        const auto source = item.find("Source");
        entry.oci = source != item.end() && source->is_string() && source->get<std::string>() == "OCI";
        const auto size = item.find("Size");
        if (size != item.end() && size->is_number()) entry.size_gb = std::max(0.0, size->get<double>());
        const auto running = item.find("Running");
        const auto state = item.find("State");
        entry.running = (running != item.end() && running->is_boolean() && running->get<bool>()) ||
                        (state != item.end() && state->is_string() && state->get<std::string>() == "running");
        entries.push_back(std::move(entry));
    }
    return entries;
}

bool is_digest_name(std::string_view name) { return contains(name, "@sha256:"); }

std::string runner_exit_reason(int status) {
    const std::string code = " (exit status " + std::to_string(status) + ")";
    switch (status) {
    case 0: return "the runner did its job" + code;
    case 1: return "the runner was terminated" + code;
    case 2: return "the runner met an error it would retry" + code;
    case 3:
    case 4: return "the runner wants to update itself: update the runner in the golden image" + code;
    case 5: return "another runner of this name holds the session" + code;
    case 6: return "the runner's configuration was refreshed and it wants a restart" + code;
    case 7: return "GitHub no longer accepts this runner's version: update the runner in the golden image" + code;
    default: return "the runner exited" + code;
    }
}

std::string last_line_of(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
    if (const auto newline = text.rfind('\n'); newline != std::string_view::npos) text.remove_prefix(newline + 1);
    return std::string{text};
}

} // namespace macvmorx::agent
