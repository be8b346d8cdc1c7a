#include "macvmorx/protocol/command.hpp"

namespace macvmorx::protocol {

std::string_view to_string(CommandType type) {
    switch (type) {
    case CommandType::create_vm: return "createVm";
    case CommandType::delete_vm: return "deleteVm";
    case CommandType::pull_image: return "pullImage";
    }
    return "unknown";
}

} // namespace macvmorx::protocol
