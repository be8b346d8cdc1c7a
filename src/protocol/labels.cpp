#include "macvmorx/protocol/labels.hpp"

#include <algorithm>

namespace macvmorx::protocol {

void normalize(Labels& labels) {
    std::stable_sort(labels.begin(), labels.end(), [](const Label& a, const Label& b) { return a.key < b.key; });
    // Of equal keys keep the last one given.
    Labels unique;
    unique.reserve(labels.size());
    for (auto& label : labels) {
        if (!unique.empty() && unique.back().key == label.key) {
            unique.back() = std::move(label);
        } else {
            unique.push_back(std::move(label));
        }
    }
    labels = std::move(unique);
}

const Label* find(const Labels& labels, std::string_view key) {
    const auto it = std::lower_bound(labels.begin(), labels.end(), key,
                                     [](const Label& label, std::string_view wanted) { return label.key < wanted; });
    return it != labels.end() && it->key == key ? &*it : nullptr;
}

bool satisfies(const Labels& node, const Labels& required) {
    return std::all_of(required.begin(), required.end(), [&node](const Label& want) {
        const Label* label = find(node, want.key);
        return label != nullptr && (want.value.empty() || label->value == want.value);
    });
}

Label parse_label(std::string_view text) {
    const auto equals = text.find('=');
    if (equals == std::string_view::npos) return {std::string(text), {}};
    return {std::string(text.substr(0, equals)), std::string(text.substr(equals + 1))};
}

std::string to_string(const Labels& labels) {
    std::string out;
    for (const auto& label : labels) {
        if (!out.empty()) out += ',';
        out += label.key;
        if (!label.value.empty()) out += "=" + label.value;
    }
    return out;
}

} // namespace macvmorx::protocol
