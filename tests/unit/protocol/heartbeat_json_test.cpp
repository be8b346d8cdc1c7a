// The heartbeat's pullingImages (issue 23): the images an agent is downloading, read and written
// back as cachedImages are, within the same rules and limits; absent means none.

#include "macvmorx/base/invalid_input.hpp"
#include "macvmorx/json/json_writer.hpp"
#include "macvmorx/protocol/heartbeat_json.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <utility>

using macvmorx::protocol::parse_heartbeat;
using macvmorx::protocol::parse_heartbeat_checked;

namespace {

std::string heartbeat_with(const std::string& member) { return R"({"nodeId":"mac-1",)" + member + "}"; }

// How a heartbeat with this body is answered: {0, ""} when accepted, else the status (400
// malformed, 422 out of range) and the field named.
std::pair<int, std::string> pulling_refusal(const std::string& body) {
    try {
        parse_heartbeat(body);
    } catch (const macvmorx::InvalidInput& error) {
        return {error.kind() == macvmorx::InvalidInput::Kind::malformed ? 400 : 422, error.field()};
    }
    return {0, ""};
}

std::string written(const macvmorx::protocol::Heartbeat& heartbeat) {
    std::string out;
    macvmorx::JsonWriter json{out};
    macvmorx::protocol::write_heartbeat(json, heartbeat);
    return out;
}

std::string image_list(const std::string& key, int count, std::size_t name_length) {
    std::string list = "\"" + key + "\":[";
    for (int i = 0; i < count; ++i) {
        std::string name = "img-" + std::to_string(i);
        name.resize(std::max(name.size(), name_length), 'x');
        list += (i ? ",\"" : "\"") + name + "\"";
    }
    return list + "]";
}

} // namespace

TEST(HeartbeatPullingImages, AreReadAndWrittenBack) {
    const auto heartbeat = parse_heartbeat(
        heartbeat_with(R"("cachedImages":["ghcr.io/acme/sonoma:1"],"pullingImages":["ghcr.io/acme/sequoia:1","s3://bucket/tahoe.tar"])"));
    EXPECT_EQ(heartbeat.cached_images, std::vector<std::string>{"ghcr.io/acme/sonoma:1"});
    EXPECT_EQ(heartbeat.pulling_images, (std::vector<std::string>{"ghcr.io/acme/sequoia:1", "s3://bucket/tahoe.tar"}));
    const auto out = written(heartbeat);
    EXPECT_TRUE(parse_heartbeat(out) == heartbeat) << out;
    EXPECT_TRUE(parse_heartbeat_checked(out) == heartbeat) << out;
}

TEST(HeartbeatPullingImages, AbsentOrNullMeansNoneAndNoneIsWrittenAsAnEmptyList) {
    EXPECT_TRUE(parse_heartbeat(R"({"nodeId":"mac-1"})").pulling_images.empty());
    EXPECT_TRUE(parse_heartbeat(heartbeat_with(R"("pullingImages":null)")).pulling_images.empty());
    EXPECT_TRUE(parse_heartbeat(heartbeat_with(R"("pullingImages":[])")).pulling_images.empty());
    // As cachedImages: the API's view of a node shows the list, empty or not.
    const auto out = written(parse_heartbeat(R"({"nodeId":"mac-1"})"));
    EXPECT_EQ(nlohmann::json::parse(out).at("pullingImages"), nlohmann::json::array()) << out;
}

TEST(HeartbeatPullingImages, FollowTheRulesOfCachedImages) {
    EXPECT_EQ(pulling_refusal(heartbeat_with(R"("pullingImages":"sonoma")")), std::make_pair(400, std::string("pullingImages")));
    EXPECT_EQ(pulling_refusal(heartbeat_with(R"("pullingImages":[1])")), std::make_pair(400, std::string("pullingImages[0]")));
    EXPECT_EQ(pulling_refusal(heartbeat_with(R"("pullingImages":["has space"])")),
              std::make_pair(422, std::string("pullingImages[0]")));
    EXPECT_EQ(pulling_refusal(heartbeat_with(R"("pullingImages":[""])")), std::make_pair(422, std::string("pullingImages[0]")));
    EXPECT_EQ(pulling_refusal(heartbeat_with(R"("pullingImages":[")" + std::string(600, 'a') + R"("])")),
              std::make_pair(422, std::string("pullingImages[0]")));
}

TEST(HeartbeatPullingImages, HoldAsManyImagesAsCachedImagesAndCountTowardsTheReportsText) {
    const auto limit = static_cast<int>(macvmorx::protocol::max_cached_images);
    EXPECT_EQ(pulling_refusal(heartbeat_with(image_list("pullingImages", limit, 8))), std::make_pair(0, std::string()));
    EXPECT_EQ(pulling_refusal(heartbeat_with(image_list("pullingImages", limit + 1, 8))),
              std::make_pair(422, std::string("pullingImages")));
    // 200 names of 100 bytes: within the count, beyond what one host's report may make the daemon keep.
    EXPECT_EQ(pulling_refusal(heartbeat_with(image_list("pullingImages", 200, 100))),
              std::make_pair(422, std::string("heartbeat")));
}
