#pragma once

// Commands on the wire: the daemon writes them into a heartbeat's answer and a long poll's
// (`{"commands": [...]}`); the agent reads them.

#include "macvmorx/protocol/command.hpp"

#include <string_view>
#include <vector>

namespace macvmorx {
class JsonWriter;
}

namespace macvmorx::protocol {

void write_command(JsonWriter& json, const Command& command);
void write_commands(JsonWriter& json, const std::vector<Command>& commands);

// The commands in an answer (`"commands"`, absent meaning none). Commands of a type this agent
// does not know are skipped. Throws MalformedInput / InvalidValue on a body that is not what the
// orchestrator sends.
std::vector<Command> parse_commands(std::string_view body);

} // namespace macvmorx::protocol
