#pragma once

#include <cstddef>
#include <string_view>

namespace macvmorx {

// The length of the valid UTF-8 sequence that starts at text[at] (RFC 3629: no overlong forms,
// no surrogates, nothing past U+10FFFF), or 0 when there is none: 1 for ASCII.
std::size_t utf8_sequence_length(std::string_view text, std::size_t at);

} // namespace macvmorx
