// Commands on the wire: pullImage (issue 23) read and written back, refused without its image,
// and commands of unknown types skipped, as an agent older than a command skips it.

#include "macvmorx/base/invalid_input.hpp"
#include "macvmorx/json/json_writer.hpp"
#include "macvmorx/protocol/command_json.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <utility>

using macvmorx::protocol::CommandType;
using macvmorx::protocol::parse_commands;

namespace {

// The status an answer with this body is refused with (400 malformed, 422 out of range), and
// the field named; {0, ""} when it is accepted.
std::pair<int, std::string> command_refusal(const std::string& body) {
    try {
        parse_commands(body);
    } catch (const macvmorx::InvalidInput& error) {
        return {error.kind() == macvmorx::InvalidInput::Kind::malformed ? 400 : 422, error.field()};
    }
    return {0, ""};
}

std::string one_command(const std::string& command) { return R"({"commands":[)" + command + "]}"; }

} // namespace

TEST(CommandJson, APullImageIsReadWithTheImagesToKeep) {
    const auto commands = parse_commands(one_command(
        R"({"id":"cmd-1","type":"pullImage","imageName":"ghcr.io/x/y:1","keepImages":["a","b"]})"));
    ASSERT_EQ(commands.size(), 1u);
    EXPECT_EQ(commands[0].id, "cmd-1");
    EXPECT_EQ(commands[0].type, CommandType::pull_image);
    EXPECT_EQ(commands[0].image_name, "ghcr.io/x/y:1");
    EXPECT_EQ(commands[0].keep_images, (std::vector<std::string>{"a", "b"}));
    EXPECT_TRUE(commands[0].vm_id.empty());

    const auto without_keep = parse_commands(one_command(R"({"id":"cmd-2","type":"pullImage","imageName":"y"})"));
    ASSERT_EQ(without_keep.size(), 1u);
    EXPECT_TRUE(without_keep[0].keep_images.empty()) << "keepImages is optional";
}

TEST(CommandJson, APullImageIsWrittenWithoutAVmIdAndReadsBackTheSame) {
    macvmorx::protocol::Command pull;
    pull.id = "cmd-1";
    pull.type = CommandType::pull_image;
    pull.image_name = "ghcr.io/acme/sonoma:1";
    pull.keep_images = {"ghcr.io/acme/ventura:1", "macos-base"};
    std::string array;
    macvmorx::JsonWriter writer{array};
    macvmorx::protocol::write_commands(writer, {pull});
    const std::string out = R"({"commands":)" + array + "}";

    const auto written = nlohmann::json::parse(out)["commands"].at(0);
    EXPECT_EQ(written["type"], "pullImage");
    EXPECT_FALSE(written.contains("vmId")) << out;
    const auto again = parse_commands(out);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].id, pull.id);
    EXPECT_EQ(again[0].type, pull.type);
    EXPECT_EQ(again[0].image_name, pull.image_name);
    EXPECT_EQ(again[0].keep_images, pull.keep_images);
}

TEST(CommandJson, APullImageWithoutAUsableImageIsRefusedAsACreateVmIs) {
    EXPECT_EQ(command_refusal(one_command(R"({"id":"c","type":"pullImage"})")),
              std::make_pair(400, std::string("commands[0].imageName")));
    EXPECT_EQ(command_refusal(one_command(R"({"id":"c","type":"createVm","vmId":"vm-1"})")),
              std::make_pair(400, std::string("commands[0].imageName")));
    EXPECT_EQ(command_refusal(one_command(R"({"id":"c","type":"pullImage","imageName":7})")).first, 400);
    EXPECT_EQ(command_refusal(one_command(R"({"id":"c","type":"pullImage","imageName":""})")).first, 422);
    EXPECT_EQ(command_refusal(one_command(R"({"id":"c","type":"pullImage","imageName":"has space"})")),
              std::make_pair(422, std::string("commands[0].imageName")));
    EXPECT_EQ(command_refusal(one_command(R"({"id":"c","type":"pullImage","imageName":"y","keepImages":"a"})")),
              std::make_pair(400, std::string("commands[0].keepImages")));
    EXPECT_EQ(command_refusal(one_command(R"({"id":"c","type":"pullImage","imageName":"y","keepImages":[1]})")),
              std::make_pair(400, std::string("commands[0].keepImages[0]")));
    EXPECT_EQ(
        command_refusal(one_command(R"({"id":"c","type":"pullImage","imageName":"y","keepImages":["has space"]})")),
        std::make_pair(422, std::string("commands[0].keepImages[0]")));
    std::string many = R"({"id":"c","type":"pullImage","imageName":"y","keepImages":[)";
    for (int i = 0; i < 300; ++i) many += (i ? ",\"img-" : "\"img-") + std::to_string(i) + "\"";
    many += "]}";
    EXPECT_EQ(command_refusal(one_command(many)), std::make_pair(422, std::string("commands[0].keepImages")));
}

TEST(CommandJson, CommandsOfAnUnknownTypeAreSkippedAndTheOthersStillRead) {
    // What an agent older than pullImage does with one: the createVm and deleteVm around it come through.
    const auto commands = parse_commands(R"({"commands":[
        {"id":"c1","type":"createVm","vmId":"vm-1","imageName":"sonoma"},
        {"id":"c2","type":"warmCache","imageName":"ghcr.io/x/y:1","keepImages":["a"]},
        {"id":"c3","type":"deleteVm","vmId":"vm-0"}]})");
    ASSERT_EQ(commands.size(), 2u);
    EXPECT_EQ(commands[0].type, CommandType::create_vm);
    EXPECT_EQ(commands[0].vm_id, "vm-1");
    EXPECT_EQ(commands[1].type, CommandType::delete_vm);
    EXPECT_EQ(commands[1].vm_id, "vm-0");
}
