#include "macvmorx/protocol/vm_state.hpp"

#include <array>
#include <cstddef>

namespace macvmorx::protocol {
namespace {

constexpr std::array<std::string_view, 9> state_names{"pending", "assigned", "provisioning", "running", "deleting",
                                                      "deleted", "failed",   "lost",         "unmanaged"};

} // namespace

std::string_view to_string(VmState state) { return state_names[static_cast<std::size_t>(state)]; }

std::optional<VmState> parse_vm_state(std::string_view text) {
    for (std::size_t i = 0; i < state_names.size(); ++i) {
        if (state_names[i] == text) return static_cast<VmState>(i);
    }
    return std::nullopt;
}

} // namespace macvmorx::protocol
