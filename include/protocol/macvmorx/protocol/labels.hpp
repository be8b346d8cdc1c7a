#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace macvmorx::protocol {

// A node label: "arch" = "arm64", or a bare tag such as "xcode-16" (empty value).
struct Label {
    std::string key;
    std::string value;

    bool operator==(const Label&) const = default;
};

// Sorted by key, one entry per key.
using Labels = std::vector<Label>;

// Sorts by key and keeps the last value given for a repeated key.
void normalize(Labels& labels);

// The label of `key`, or null.
const Label* find(const Labels& labels, std::string_view key);

// Whether a node with `node` labels satisfies `required`: every required key must be present,
// and when the required label has a value, with that value.
bool satisfies(const Labels& node, const Labels& required);

// "key=value" or "key".
Label parse_label(std::string_view text);
std::string to_string(const Labels& labels);

} // namespace macvmorx::protocol
