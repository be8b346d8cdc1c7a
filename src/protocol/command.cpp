#include "macvmorx/protocol/command.hpp"

namespace macvmorx::protocol {

std::string_view to_string(CommandType type) { return type == CommandType::create_vm ? "createVm" : "deleteVm"; }

} // namespace macvmorx::protocol
