// Replays every curl command of README.md's walkthrough against a real daemon, so that the
// README cannot drift from what the daemon does.

#include "test_daemon.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using macvmorx::http::Method;
using macvmorx::testing::TestDaemon;
using nlohmann::json;

namespace {

struct CurlCommand {
    Method method = Method::get;
    std::vector<macvmorx::http::Header> headers;
    std::string body;
    std::string url;
    bool explicit_method = false;
};

// Splits a shell command into words: single and double quotes, backslash-newline continuations.
std::vector<std::string> shell_words(const std::string& command) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    for (std::size_t i = 0; i < command.size(); ++i) {
        const char c = command[i];
        if (c == '\\' && i + 1 < command.size() && command[i + 1] == '\n') {
            ++i;
        } else if (c == '\'' || c == '"') {
            const auto end = command.find(c, i + 1);
            word += command.substr(i + 1, end - i - 1);
            in_word = true;
            i = end;
        } else if (c == ' ' || c == '\n' || c == '\t') {
            if (in_word) words.push_back(word);
            word.clear();
            in_word = false;
        } else {
            word += c;
            in_word = true;
        }
    }
    if (in_word) words.push_back(word);
    return words;
}

CurlCommand parse_curl(const std::string& command) {
    const auto words = shell_words(command);
    CurlCommand curl;
    for (std::size_t i = 1; i < words.size(); ++i) {
        if (words[i] == "-X") {
            const auto& name = words[++i];
            curl.method = name == "POST" ? Method::post : name == "DELETE" ? Method::del : Method::get;
            curl.explicit_method = true;
        } else if (words[i] == "-H") {
            const auto& header = words[++i];
            const auto colon = header.find(':');
            curl.headers.push_back({header.substr(0, colon), header.substr(header.find_first_not_of(' ', colon + 1))});
        } else if (words[i] == "-d" || words[i] == "--data") {
            curl.body = words[++i];
            if (!curl.explicit_method) curl.method = Method::post;
        } else if (words[i].starts_with("http")) {
            curl.url = words[i];
        }
    }
    return curl;
}

// The curl commands of the README's walkthrough section, in order.
std::vector<std::string> readme_curl_commands() {
    std::ifstream in{MACVMORX_README};
    std::stringstream text;
    text << in.rdbuf();
    const std::string readme = text.str();
    const auto section = readme.find("## Walkthrough with curl");
    const auto section_end = readme.find("\n## ", section + 1);
    std::vector<std::string> commands;
    for (auto at = readme.find("```bash\ncurl", section); at < section_end; at = readme.find("```bash\ncurl", at + 1)) {
        const auto start = at + 8;
        commands.push_back(readme.substr(start, readme.find("\n```", start) - start));
    }
    return commands;
}

} // namespace

TEST(Readme, TheWalkthroughWorksAsWritten) {
    const auto commands = readme_curl_commands();
    ASSERT_EQ(commands.size(), 7u) << "two heartbeats, a listing, two placements, a VM record, a deletion";

    TestDaemon server;
    auto client = server.client();
    std::vector<macvmorx::http::ClientResponse> responses;
    for (const auto& command : commands) {
        auto curl = parse_curl(command);
        const std::string prefix = "http://localhost:8080";
        ASSERT_TRUE(curl.url.starts_with(prefix)) << curl.url;
        responses.push_back(client.request(curl.method, curl.url.substr(prefix.size()), curl.body, curl.headers));
        EXPECT_EQ(responses.back().status, 200) << command << "\n" << responses.back().body;
    }

    EXPECT_EQ(json::parse(responses[0].body), json({{"message", "Heartbeat received"}}));
    EXPECT_EQ(json::parse(responses[1].body), json({{"message", "Heartbeat received"}}));

    const auto nodes = json::parse(responses[2].body);
    ASSERT_EQ(nodes.size(), 2u);
    EXPECT_EQ(nodes[0]["nodeId"], "mac-mini-001");
    EXPECT_EQ(nodes[0]["vms"][0]["vmIpAddress"], "10.0.0.101");
    EXPECT_EQ(nodes[1]["nodeId"], "mac-mini-002");
    EXPECT_EQ(nodes[1]["status"], "idle");

    const auto placement = json::parse(responses[3].body);
    EXPECT_EQ(placement["message"], "VM scheduled successfully");
    EXPECT_EQ(placement["nodeId"], "mac-mini-001");
    EXPECT_EQ(placement["imageCached"], true);

    const auto named = json::parse(responses[4].body);
    EXPECT_EQ(named["vmId"], "job-1234");
    EXPECT_EQ(named["nodeId"], "mac-mini-002");
    EXPECT_EQ(named["imageCached"], false);

    const auto record = json::parse(responses[5].body);
    EXPECT_EQ(record["vmId"], "job-1234");
    EXPECT_EQ(record["state"], "assigned");
    EXPECT_EQ(record["metadata"]["workflow"], "build");
    EXPECT_EQ(record["transitions"].size(), 2u);

    EXPECT_EQ(json::parse(responses[6].body)["vmId"], "job-1234");
    EXPECT_EQ(json::parse(client.get("/api/vms/job-1234").body)["state"], "deleted")
        << "the agent had not been told about it yet: nothing to ask it";
}
