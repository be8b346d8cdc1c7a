#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace macvmorx::lifecycle {

inline bool contains(const std::vector<std::string>& items, std::string_view item) {
    return std::find(items.begin(), items.end(), item) != items.end();
}

} // namespace macvmorx::lifecycle
