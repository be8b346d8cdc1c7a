#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace macvmorx {

// Hashes strings and string_views alike, so that a map keyed by std::string can be searched
// with a string_view (a path parameter, a reported name) without building a string.
struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
};

// An unordered map by name that `find`s by string_view.
template <typename T>
using StringMap = std::unordered_map<std::string, T, StringHash, std::equal_to<>>;

} // namespace macvmorx
