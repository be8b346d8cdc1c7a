// The configuration file (--config): load_actions_config, which reads the TOML text with toml++
// (Debian's shared library, as the daemon links it) and checks every setting. It takes a path,
// so each input is written to a file in memory first (a memfd, named by /proc/self/fd: nothing
// on disk). A refusal is a ConfigError and nothing else; an accepted file holds only valid
// settings and pools.

#include "property.hpp"

#include "macvmorx/config/actions_config.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>

using namespace macvmorx;
using fuzz::expect;

namespace {

int config_fd = -1;

std::filesystem::path config_file() { return "/proc/self/fd/" + std::to_string(config_fd); }

void write_config(const std::uint8_t* data, std::size_t size) {
    expect(::ftruncate(config_fd, 0) == 0, "the file in memory is emptied");
    std::size_t written = 0;
    while (written < size) {
        const auto count = ::pwrite(config_fd, data + written, size - written, static_cast<off_t>(written));
        expect(count > 0, "the input is written to the file in memory");
        written += static_cast<std::size_t>(count);
    }
}

void check(const config::ActionsConfig& actions) {
    const auto& github = actions.github;
    expect(github.api_url.starts_with("https://") || github.api_url.starts_with("http://"), "api_url is an http(s) URL");
    expect(!github.runner_prefix.empty(), "runner_prefix is not empty");
    expect(github.registration_deadline.count() > 0, "registration_deadline is positive");
    expect(github.reconcile_interval.count() > 0, "reconcile_interval is positive");
    for (std::size_t i = 0; i < actions.pools.size(); ++i) {
        const auto& pool = actions.pools[i];
        expect(!pool.name.empty() && pool.name.size() <= 100, "a pool has a name");
        for (std::size_t j = 0; j < i; ++j) expect(actions.pools[j].name != pool.name, "pool names are unique");
        expect(!pool.runs_on.empty(), "a pool takes some labels");
        expect(!pool.image.empty(), "a pool has an image");
        expect(config::GithubScope::parse(pool.scope.to_string()) == pool.scope, "a scope reads back the same");
        expect(pool.warm >= 0 && pool.warm <= 1000, "warm is 0 to 1000");
        expect(!pool.memory_gb || *pool.memory_gb > 0, "memory_gb is positive");
        expect(std::adjacent_find(pool.node_labels.begin(), pool.node_labels.end(),
                                  [](const protocol::Label& a, const protocol::Label& b) { return a.key >= b.key; }) ==
                   pool.node_labels.end(),
               "node_labels are sorted, one per key");
        expect(pool.takes(pool.runs_on), "a pool takes a job that asks for all its labels");
    }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    config_fd = ::memfd_create("macvmorx-fuzz.toml", MFD_CLOEXEC);
    expect(config_fd >= 0, "a file in memory is created");
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    write_config(data, size);
    try {
        check(config::load_actions_config(config_file()));
    } catch (const config::ConfigError&) {
    }
    return 0;
}
