// The tokens file (TokenTable::parse, --tokens-file): arbitrary text. So that lines can name
// tokens the target knows, "$0" to "$9" in the input stand for the hex SHA-256 of "token-0" to
// "token-9" (the seeds write "sha256:$1 agent mac-1").
//
// Refusals are TokenFileError only, naming a line. A text is accepted exactly when each of its
// lines, read independently here, is blank, a comment or `sha256:<hex> <role> <name> [nodes=...]`
// and no hash appears twice. Each accepted line, written again by token_file_line, is accepted
// on its own; a known token is found with the line's name, role and node patterns, and so it is
// in the table read from the rewritten line.

#include "property.hpp"

#include "macvmorx/auth/token_table.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

using namespace macvmorx;
using fuzz::expect;

namespace {

const std::array<std::string, 10>& known_tokens() {
    static const std::array<std::string, 10> tokens = [] {
        std::array<std::string, 10> made;
        for (std::size_t i = 0; i < made.size(); ++i) made[i] = "token-" + std::to_string(i);
        return made;
    }();
    return tokens;
}

const std::array<std::string, 10>& known_digests() {
    static const std::array<std::string, 10> digests = [] {
        std::array<std::string, 10> made;
        for (std::size_t i = 0; i < made.size(); ++i) made[i] = auth::sha256_hex(known_tokens()[i]);
        return made;
    }();
    return digests;
}

std::string with_known_digests(std::string_view input) {
    std::string text;
    for (std::size_t i = 0; i < input.size(); ++i) {
        if (input[i] == '$' && i + 1 < input.size() && input[i + 1] >= '0' && input[i + 1] <= '9') {
            text += known_digests()[static_cast<std::size_t>(input[i + 1] - '0')];
            ++i;
        } else {
            text += input[i];
        }
    }
    return text;
}

// What std::istream's >> skips in the C locale.
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

std::vector<std::string_view> words_of(std::string_view line) {
    std::vector<std::string_view> words;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && is_space(line[i])) ++i;
        const auto start = i;
        while (i < line.size() && !is_space(line[i])) ++i;
        if (i > start) words.push_back(line.substr(start, i - start));
    }
    return words;
}

struct Line {
    std::string digest;
    auth::Token token;
};

// One line as the tokens file's format describes it; nullopt when it breaks the format.
std::optional<Line> read_line(const std::vector<std::string_view>& words) {
    if (words.size() < 3 || !words[0].starts_with("sha256:")) return std::nullopt;
    const auto digest = words[0].substr(7);
    const bool hex = digest.size() == 64 && std::all_of(digest.begin(), digest.end(), [](char c) {
                         return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                     });
    const auto role = auth::parse_role(words[1]);
    if (!hex || !role) return std::nullopt;
    Line line{std::string{digest}, {std::string{words[2]}, *role, {}}};
    for (std::size_t i = 3; i < words.size(); ++i) {
        if (!words[i].starts_with("nodes=") || *role != auth::Role::agent) return std::nullopt;
        const auto before = line.token.node_patterns.size();
        std::string_view list = words[i].substr(6);
        while (!list.empty()) {
            const auto comma = list.find(',');
            if (comma != 0) line.token.node_patterns.emplace_back(list.substr(0, comma));
            list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
        }
        if (line.token.node_patterns.size() == before) return std::nullopt;
    }
    return line;
}

bool same_token(const auth::Token& a, const auth::Token& b) {
    return a.name == b.name && a.role == b.role && a.node_patterns == b.node_patterns;
}

// The tokens the text names, or nullopt when the format says it must be refused.
std::optional<std::vector<Line>> read_text(std::string_view text) {
    std::vector<Line> lines;
    std::set<std::string> digests;
    while (!text.empty()) {
        const auto newline = text.find('\n');
        auto line = text.substr(0, newline);
        text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
        line = line.substr(0, line.find('#'));
        const auto words = words_of(line);
        if (words.empty()) continue;
        auto read = read_line(words);
        if (!read || !digests.insert(read->digest).second) return std::nullopt;
        lines.push_back(std::move(*read));
    }
    return lines;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text = with_known_digests(fuzz::as_text(data, size));
    const auto expected = read_text(text);

    std::optional<auth::TokenTable> table;
    try {
        table = auth::TokenTable::parse(text);
    } catch (const auth::TokenFileError& error) {
        expect(std::string_view{error.what()}.starts_with("line "), "a refusal names the line");
    }
    expect(table.has_value() == expected.has_value(), "a text is accepted exactly when every line is well formed");
    if (!table) return 0;

    expect(table->size() == expected->size(), "the table holds one token per line");
    std::string rewritten;
    for (const auto& line : *expected) {
        const auto written = auth::token_file_line(line.digest, line.token);
        rewritten += written + "\n";
        const auto alone = auth::TokenTable::parse(written);
        expect(alone.size() == 1, "a line written by token_file_line is accepted on its own");
        const auto known = std::find(known_digests().begin(), known_digests().end(), line.digest);
        if (known == known_digests().end()) continue;
        const auto& presented = known_tokens()[static_cast<std::size_t>(known - known_digests().begin())];
        const auth::Token* found = table->find(presented);
        expect(found != nullptr && same_token(*found, line.token), "a known token is found as its line names it");
        const auth::Token* again = alone.find(presented);
        expect(again != nullptr && same_token(*again, line.token), "the rewritten line names the same token");
        expect(auth::token_file_line(line.digest, *again) == written, "token_file_line reads back the same");
    }
    expect(auth::TokenTable::parse(rewritten).size() == expected->size(), "the rewritten file holds the same tokens");
    for (std::size_t i = 0; i < known_tokens().size(); ++i) {
        const bool listed = std::any_of(expected->begin(), expected->end(),
                                        [&](const Line& line) { return line.digest == known_digests()[i]; });
        expect((table->find(known_tokens()[i]) != nullptr) == listed, "only the listed tokens are found");
    }
    return 0;
}
