#pragma once

// A table of environment variables for the code that reads its settings from the environment
// (object_store's s3_settings and gcs_settings), so that tests need not change their own.

#include "macvmorx/object_store/s3_settings.hpp"

#include <map>
#include <string>

namespace macvmorx::testing {

struct FakeEnvironment {
    std::map<std::string, std::string> variables;
    object_store::Environment reader() const {
        return [this](const char* name) -> const char* {
            const auto it = variables.find(name);
            return it == variables.end() ? nullptr : it->second.c_str();
        };
    }
};

} // namespace macvmorx::testing
