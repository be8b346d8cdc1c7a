#pragma once

#include <string>
#include <string_view>

namespace macvmorx {

// ASCII letters in lower case, every other byte as it is: for names that protocols compare
// without case (HTTP header names, hex digits, tart's messages), whatever the C locale says.
inline std::string ascii_lower(std::string_view text) {
    std::string result{text};
    for (auto& c : result) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return result;
}

} // namespace macvmorx
