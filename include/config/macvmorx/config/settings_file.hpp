#pragma once

#include <string>
#include <utility>
#include <vector>

namespace macvmorx::config {

// A TOML file of command-line settings, one key per flag without its dashes:
//
//   server = "https://macvmorx.lab:9443"
//   heartbeat-interval = "5s"
//   max-cached-images = 4
//   label = ["xcode=16.1", "rack=b2"]
//
// Returns (key, value) pairs by key, an array giving one pair per element in order, numbers and
// booleans as their text. Throws ConfigError naming the file, and the line of a syntax error,
// or a key whose value is a table, unless `skip_tables`: then tables and arrays of tables are
// left to another reader (the server's file also holds [github] and [[pools]]).
std::vector<std::pair<std::string, std::string>> read_settings_file(const std::string& path, bool skip_tables = false);

} // namespace macvmorx::config
