#pragma once

// Reading the tables of the project's Markdown docs, for the tests that hold the docs to the
// code (settings, options): a row's cells, the `quoted` parts of a cell, its literal defaults.

#include <cstddef>
#include <string>
#include <vector>

namespace macvmorx::testing {

inline std::string trim(const std::string& text) {
    const auto first = text.find_first_not_of(' ');
    if (first == std::string::npos) return {};
    return text.substr(first, text.find_last_not_of(' ') - first + 1);
}

// The cells of a "| a | b |" row, trimmed.
inline std::vector<std::string> cells(const std::string& row) {
    std::vector<std::string> result;
    std::string cell;
    for (std::size_t i = 1; i < row.size(); ++i) { // after the leading '|'
        if (row[i] == '|') {
            result.push_back(trim(cell));
            cell.clear();
        } else {
            cell += row[i];
        }
    }
    return result;
}

// The `quoted` parts of a cell, in order.
inline std::vector<std::string> quoted(const std::string& cell) {
    std::vector<std::string> parts;
    for (std::size_t open = cell.find('`'); open != std::string::npos; open = cell.find('`', open)) {
        const auto close = cell.find('`', open + 1);
        if (close == std::string::npos) break;
        parts.push_back(cell.substr(open + 1, close - open - 1));
        open = close + 1;
    }
    return parts;
}

// The literal defaults of a cell: `a`, or `a`, `b` for a row of two flags. Prose ("none",
// "the host name") and an empty cell name no literal default and are not compared.
inline std::vector<std::string> literal_defaults(const std::string& cell) {
    const auto parts = quoted(cell);
    std::string rebuilt;
    for (const auto& part : parts) rebuilt += (rebuilt.empty() ? "`" : ", `") + part + "`";
    return !parts.empty() && rebuilt == cell ? parts : std::vector<std::string>{};
}

// Differences, one per line, for a test's failure message.
inline std::string joined(const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& line : lines) text += line + "\n";
    return text;
}

} // namespace macvmorx::testing
