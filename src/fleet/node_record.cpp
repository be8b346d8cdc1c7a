#include "macvmorx/fleet/node_record.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace macvmorx::fleet {

using protocol::Labels;

Labels NodeRecord::labels() const {
    if (operator_labels.empty()) return report.labels;
    Labels merged = report.labels;
    merged.insert(merged.end(), operator_labels.begin(), operator_labels.end());
    normalize(merged); // the later (operator) value wins for a repeated key
    return merged;
}

bool NodeRecord::satisfies(const Labels& required) const {
    if (operator_labels.empty()) return protocol::satisfies(report.labels, required);
    return std::all_of(required.begin(), required.end(), [this](const protocol::Label& want) {
        const protocol::Label* label = protocol::find(operator_labels, want.key);
        if (label == nullptr) label = protocol::find(report.labels, want.key);
        return label != nullptr && (want.value.empty() || label->value == want.value);
    });
}

bool status_accepts_new_vms(std::string_view status) {
    static constexpr std::array<std::string_view, 4> closed{"draining", "maintenance", "degraded", "offline"};
    return std::none_of(closed.begin(), closed.end(), [status](std::string_view word) {
        return std::equal(word.begin(), word.end(), status.begin(), status.end(),
                          [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); });
    });
}

} // namespace macvmorx::fleet
