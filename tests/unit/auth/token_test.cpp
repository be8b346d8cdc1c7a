// Tokens: the tokens file, node patterns, roles and the limit on wrong tokens.

#include "macvmorx/auth/token.hpp"
#include "macvmorx/auth/token_guard.hpp"
#include "macvmorx/auth/token_table.hpp"
#include "macvmorx/http/http_error.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace std::chrono_literals;
using macvmorx::ManualClock;
using macvmorx::auth::FailedAuthentications;
using macvmorx::auth::matches_pattern;
using macvmorx::auth::Role;
using macvmorx::auth::role_allows;
using macvmorx::auth::sha256_hex;
using macvmorx::auth::Token;
using macvmorx::auth::TokenFileError;
using macvmorx::auth::TokenTable;
using macvmorx::http::Access;

namespace {

std::string line_for(const std::string& token, const std::string& rest) { return "sha256:" + sha256_hex(token) + " " + rest; }

std::string parse_error(const std::string& text) {
    try {
        TokenTable::parse(text);
    } catch (const TokenFileError& error) {
        return error.what();
    }
    return "no error";
}

} // namespace

TEST(Sha256, MatchesTheStandardTestVector) {
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(GenerateToken, GivesDistinctUrlSafeTokensOf32RandomBytes) {
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        const auto token = macvmorx::auth::generate_token();
        ASSERT_TRUE(token.starts_with("mvx_")) << token;
        EXPECT_EQ(token.size(), 4u + 43u) << token;
        for (const char c : token.substr(4)) {
            EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << token;
        }
        seen.insert(token);
    }
    EXPECT_EQ(seen.size(), 100u);
}

TEST(NodePatterns, StarMatchesAnyRunOfCharacters) {
    EXPECT_TRUE(matches_pattern("mac-01", "mac-01"));
    EXPECT_FALSE(matches_pattern("mac-01", "mac-011"));
    EXPECT_FALSE(matches_pattern("mac-01", "mac-0"));
    EXPECT_TRUE(matches_pattern("mac-rack2-*", "mac-rack2-17"));
    EXPECT_TRUE(matches_pattern("mac-rack2-*", "mac-rack2-"));
    EXPECT_FALSE(matches_pattern("mac-rack2-*", "mac-rack3-17"));
    EXPECT_TRUE(matches_pattern("*-17", "mac-rack2-17"));
    EXPECT_TRUE(matches_pattern("mac-*-1*", "mac-rack-2-17"));
    EXPECT_FALSE(matches_pattern("mac-*-1*", "mac-rack-2-27"));
    EXPECT_TRUE(matches_pattern("*", "anything"));
    EXPECT_FALSE(matches_pattern("", "x"));
    // Many stars against a long near-miss stay quick (no exponential backtracking).
    EXPECT_FALSE(matches_pattern("*a*a*a*a*a*a*a*a*b", std::string(5000, 'a')));

    Token bound{"mac-01", Role::agent, {"mac-01", "spare-*"}};
    EXPECT_TRUE(bound.may_act_for("mac-01"));
    EXPECT_TRUE(bound.may_act_for("spare-3"));
    EXPECT_FALSE(bound.may_act_for("mac-02"));
    EXPECT_TRUE((Token{"any", Role::agent, {}}).may_act_for("mac-02")) << "an unbound token acts for any node";
}

TEST(TokenTable, FindsATokenByItsHashWithItsRoleNameAndNodes) {
    const auto table = TokenTable::parse("# the fleet's tokens\n"
                                         "\n" +
                                         line_for("agent-secret", "agent mac-01 nodes=mac-01,spare-*") + "\n" +
                                         line_for("ci-secret", "ci pipeline   # the CI system") + "\n" +
                                         line_for("viewer-secret", "viewer ops") + "\n" + line_for("root", "admin alice"));
    EXPECT_EQ(table.size(), 4u);
    const Token* agent = table.find("agent-secret");
    ASSERT_NE(agent, nullptr);
    EXPECT_EQ(agent->name, "mac-01");
    EXPECT_EQ(agent->role, Role::agent);
    EXPECT_EQ(agent->node_patterns, (std::vector<std::string>{"mac-01", "spare-*"}));
    ASSERT_NE(table.find("ci-secret"), nullptr);
    EXPECT_EQ(table.find("ci-secret")->role, Role::ci);
    EXPECT_EQ(table.find("root")->role, Role::admin);
    EXPECT_EQ(table.find("agent-secre"), nullptr);
    EXPECT_EQ(table.find(""), nullptr);
    EXPECT_EQ(table.find(sha256_hex("agent-secret")), nullptr) << "the hash itself is not a token";
}

TEST(TokenTable, TheLineTokenCreatePrintsReadsBack) {
    const Token token{"mac-07", Role::agent, {"mac-07"}};
    const auto line = macvmorx::auth::token_file_line(sha256_hex("t"), token);
    EXPECT_EQ(line, "sha256:" + sha256_hex("t") + " agent mac-07 nodes=mac-07");
    const auto table = TokenTable::parse(line);
    ASSERT_NE(table.find("t"), nullptr);
    EXPECT_EQ(table.find("t")->node_patterns, std::vector<std::string>{"mac-07"});
}

TEST(TokenTable, AMistakeIsNamedWithItsLine) {
    EXPECT_EQ(parse_error("\n" + line_for("a", "admin alice") + "\nmvx_cleartext admin bob"),
              "line 3: the token must be given as sha256: and 64 lowercase hex digits, never in clear");
    EXPECT_EQ(parse_error(line_for("a", "root alice")), "line 1: unknown role 'root' (agent, ci, viewer or admin)");
    EXPECT_EQ(parse_error(line_for("a", "ci pipeline nodes=mac-1")), "line 1: only agent tokens are bound to nodes");
    EXPECT_EQ(parse_error(line_for("a", "agent mac-1 nodes=")), "line 1: nodes= needs at least one node id or pattern");
    EXPECT_EQ(parse_error(line_for("a", "agent mac-1 color=blue")), "line 1: unknown field 'color=blue' (only nodes=...)");
    EXPECT_EQ(parse_error(line_for("a", "agent")), "line 1: expected 'sha256:<hex> <role> <name> [nodes=...]'");
    EXPECT_EQ(parse_error(line_for("a", "ci x") + "\n" + line_for("a", "admin y")), "line 2: the same token appears twice");
    EXPECT_EQ(parse_error("sha256:" + std::string(64, 'A') + " ci x"),
              "line 1: the token must be given as sha256: and 64 lowercase hex digits, never in clear");
    EXPECT_THROW(TokenTable::load("/nonexistent/tokens"), TokenFileError);
}

TEST(Roles, EachRoleReachesItsRoutesOnly) {
    struct Expect {
        Role role;
        bool read, report, operate, administer;
    };
    for (const auto& e : {Expect{Role::agent, false, true, false, false}, Expect{Role::ci, true, false, true, false},
                          Expect{Role::viewer, true, false, false, false}, Expect{Role::admin, true, true, true, true}}) {
        const auto name = std::string{macvmorx::auth::to_string(e.role)};
        EXPECT_TRUE(role_allows(e.role, Access::open)) << name;
        EXPECT_TRUE(role_allows(e.role, Access::authenticated)) << name;
        EXPECT_EQ(role_allows(e.role, Access::read), e.read) << name;
        EXPECT_EQ(role_allows(e.role, Access::report), e.report) << name;
        EXPECT_EQ(role_allows(e.role, Access::operate), e.operate) << name;
        EXPECT_EQ(role_allows(e.role, Access::administer), e.administer) << name;
    }
}

TEST(FailedAuthentications, TooManyWrongTokensFromOneAddressBlockItUntilTheWindowEnds) {
    ManualClock clock;
    FailedAuthentications failures{clock, {3, 60s}};
    EXPECT_EQ(failures.blocked_for("10.0.0.1"), macvmorx::Duration::zero());
    failures.record("10.0.0.1");
    failures.record("10.0.0.1");
    EXPECT_EQ(failures.blocked_for("10.0.0.1"), macvmorx::Duration::zero()) << "two of three allowed";
    clock.advance(10s);
    failures.record("10.0.0.1");
    EXPECT_EQ(failures.blocked_for("10.0.0.1"), macvmorx::Duration{50s}) << "blocked until the window that began at the first";
    EXPECT_EQ(failures.blocked_for("10.0.0.2"), macvmorx::Duration::zero()) << "another address is not";
    clock.advance(50s);
    EXPECT_EQ(failures.blocked_for("10.0.0.1"), macvmorx::Duration::zero());
    failures.record("10.0.0.1");
    EXPECT_EQ(failures.blocked_for("10.0.0.1"), macvmorx::Duration::zero()) << "a new window starts with one failure";
}
