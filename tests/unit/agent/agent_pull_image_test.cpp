// pullImage (issue 23): the daemon asks an idle host to download an image ahead of demand. The
// agent acknowledges it as taken up, pulls once, lists the image in pullingImages until it is in
// cachedImages, never evicts what the daemon asks it to keep, and a createVm for the image joins
// the download.

#include "agent_fixture.hpp"

#include <algorithm>

using macvmorx::protocol::VmState;

namespace {

using AgentPullImage = macvmorx::testing::AgentFixture;

macvmorx::protocol::Command pull_ahead(std::string id, std::string image, std::vector<std::string> keep = {}) {
    macvmorx::protocol::Command command;
    command.id = std::move(id);
    command.type = macvmorx::protocol::CommandType::pull_image;
    command.image_name = std::move(image);
    command.keep_images = std::move(keep);
    return command;
}

std::size_t times_acknowledged(const macvmorx::testing::FakeOrchestratorLink& link, const std::string& command_id) {
    return static_cast<std::size_t>(std::count(link.acknowledged.begin(), link.acknowledged.end(), command_id));
}

const std::string sonoma = "ghcr.io/acme/sonoma:1";
const std::string ventura = "ghcr.io/acme/ventura:1";
const std::string monterey = "ghcr.io/acme/monterey:1";

} // namespace

TEST_F(AgentPullImage, TheImageIsPulledOnceAndThenCachedWithNothingReported) {
    start();
    link.give({pull_ahead("p1", sonoma)});
    ASSERT_TRUE(run_until([&] { return agent->build_heartbeat().cached_images == std::vector<std::string>{sonoma}; }));

    EXPECT_EQ(times_acknowledged(link, "p1"), 1u);
    EXPECT_EQ(backend.pulls, std::vector<std::string>{sonoma});
    EXPECT_TRUE(link.events.empty()) << "no VM to report on";
    EXPECT_TRUE(agent->build_heartbeat().pulling_images.empty());
    EXPECT_EQ(agent->build_heartbeat().status, "idle");
}

TEST_F(AgentPullImage, TheHeartbeatListsTheImageAsPullingUntilItIsCached) {
    backend.hold_pulls = true;
    start();
    link.give({pull_ahead("p1", sonoma)});
    ASSERT_TRUE(run_until([&] { return backend.pulls.size() == 1; }));
    settle();

    const auto during = agent->build_heartbeat();
    EXPECT_EQ(during.pulling_images, std::vector<std::string>{sonoma});
    EXPECT_TRUE(during.cached_images.empty());
    EXPECT_EQ(during.status, "idle") << "a download takes no VM slot";

    backend.finish_held_pulls();
    ASSERT_TRUE(run_until([&] { return agent->build_heartbeat().pulling_images.empty(); }));
    EXPECT_EQ(agent->build_heartbeat().cached_images, std::vector<std::string>{sonoma});
}

TEST_F(AgentPullImage, AnImagePulledForAVmIsListedAsPullingToo) {
    backend.hold_pulls = true;
    start();
    link.give({create_vm("c1", "vm-1", sonoma)});
    ASSERT_TRUE(run_until([&] { return backend.pulls.size() == 1; }));
    EXPECT_EQ(agent->build_heartbeat().pulling_images, std::vector<std::string>{sonoma});

    backend.finish_held_pulls();
    ASSERT_TRUE(run_until([&] { return !link.events_of("vm-1", VmState::running).empty(); }));
    EXPECT_TRUE(agent->build_heartbeat().pulling_images.empty());
}

TEST_F(AgentPullImage, ACommandSentAgainIsAcknowledgedAgainButNotPulledTwice) {
    backend.hold_pulls = true;
    start();
    link.give({pull_ahead("p1", sonoma)});
    ASSERT_TRUE(run_until([&] { return backend.pulls.size() == 1; }));
    // Sent again (the acknowledgement was lost), and another command for the image under way.
    link.give({pull_ahead("p1", sonoma), pull_ahead("p2", sonoma)});
    ASSERT_TRUE(run_until([&] { return times_acknowledged(link, "p1") == 2 && times_acknowledged(link, "p2") == 1; }));
    settle();
    EXPECT_EQ(backend.pulls.size(), 1u);

    backend.finish_held_pulls();
    ASSERT_TRUE(run_until([&] { return agent->build_heartbeat().cached_images == std::vector<std::string>{sonoma}; }));
    // And for an image the host holds.
    link.give({pull_ahead("p3", sonoma)});
    ASSERT_TRUE(run_until([&] { return times_acknowledged(link, "p3") == 1; }));
    settle();
    EXPECT_EQ(backend.pulls.size(), 1u);
}

TEST_F(AgentPullImage, AFailedPullLeavesPullingImagesAndCachesNothing) {
    backend.pull_outcome = macvmorx::agent::Outcome::failure("registry: connection reset");
    start();
    link.give({pull_ahead("p1", sonoma)});
    ASSERT_TRUE(run_until([&] { return backend.pulls.size() == 1; }));
    settle();

    const auto after = agent->build_heartbeat();
    EXPECT_TRUE(after.pulling_images.empty());
    EXPECT_TRUE(after.cached_images.empty());
    EXPECT_TRUE(link.events.empty());
}

TEST_F(AgentPullImage, ANameThatCouldReadAsAnOptionIsAcknowledgedButNotPulled) {
    start();
    link.give({pull_ahead("p1", "--insecure")});
    ASSERT_TRUE(run_until([&] { return times_acknowledged(link, "p1") == 1; }));
    settle();

    EXPECT_TRUE(backend.pulls.empty());
    EXPECT_TRUE(agent->build_heartbeat().pulling_images.empty());
}

TEST_F(AgentPullImage, ADegradedHostAcknowledgesButDoesNotPull) {
    backend.inventory_outcome = macvmorx::agent::Outcome::failure("tart list: exit 1");
    start();
    link.give({pull_ahead("p1", sonoma)});
    ASSERT_TRUE(run_until([&] { return times_acknowledged(link, "p1") == 1; }));
    settle();

    EXPECT_TRUE(backend.pulls.empty());
    EXPECT_TRUE(agent->build_heartbeat().pulling_images.empty());
}

TEST_F(AgentPullImage, AnImageToKeepIsNotEvictedEvenWhenLeastRecentlyUsed) {
    options.max_cached_images = 2;
    backend.images[monterey] = 40;
    backend.images[ventura] = 40;
    start();
    // Both came in at the same time; monterey goes first by name, unless kept.
    link.give({pull_ahead("p1", sonoma, {monterey})});
    ASSERT_TRUE(run_until([&] { return agent->build_heartbeat().cached_images.size() == 2 && backend.pulls.size() == 1; }));
    settle();

    EXPECT_EQ(backend.deleted_images, std::vector<std::string>{ventura});
    auto cached = agent->build_heartbeat().cached_images;
    std::sort(cached.begin(), cached.end());
    EXPECT_EQ(cached, (std::vector<std::string>{monterey, sonoma}));
}

TEST_F(AgentPullImage, ThePullIsSkippedWhenRoomNeedsAnImageToKeep) {
    options.max_cached_images = 1;
    backend.images[ventura] = 40;
    start();
    link.give({pull_ahead("p1", sonoma, {ventura})});
    ASSERT_TRUE(run_until([&] { return times_acknowledged(link, "p1") == 1; }));
    settle();

    EXPECT_TRUE(backend.pulls.empty());
    EXPECT_TRUE(backend.deleted_images.empty());
    EXPECT_EQ(agent->build_heartbeat().cached_images, std::vector<std::string>{ventura});
    EXPECT_TRUE(agent->build_heartbeat().pulling_images.empty());

    // A VM that needs the image is real demand: room is made for it as always.
    link.give({create_vm("c1", "vm-1", sonoma)});
    ASSERT_TRUE(run_until([&] { return !link.events_of("vm-1", VmState::running).empty(); }));
    EXPECT_EQ(backend.deleted_images, std::vector<std::string>{ventura});
}

TEST_F(AgentPullImage, ACreateVmForTheImageBeingPulledJoinsTheDownload) {
    backend.hold_pulls = true;
    start();
    link.give({pull_ahead("p1", sonoma)});
    ASSERT_TRUE(run_until([&] { return backend.pulls.size() == 1; }));
    link.give({create_vm("c1", "vm-1", sonoma)});
    ASSERT_TRUE(run_until([&] { return !link.events_of("vm-1", VmState::provisioning).empty(); }));
    settle();
    EXPECT_EQ(backend.pulls.size(), 1u);
    EXPECT_EQ(agent->build_heartbeat().pulling_images, std::vector<std::string>{sonoma});

    backend.finish_held_pulls();
    ASSERT_TRUE(run_until([&] { return !link.events_of("vm-1", VmState::running).empty(); }));
    EXPECT_EQ(backend.pulls.size(), 1u);
    EXPECT_EQ(backend.started.size(), 1u);
}

TEST_F(AgentPullImage, AVmDeletedWhileItsImageCameInDoesNotMakeTheNextVmPullAgain) {
    backend.hold_pulls = true;
    start();
    link.give({create_vm("c1", "vm-1", sonoma)});
    ASSERT_TRUE(run_until([&] { return backend.pulls.size() == 1; }));
    link.give({delete_vm("d1", "vm-1"), create_vm("c2", "vm-2", sonoma)});
    ASSERT_TRUE(run_until([&] { return !link.events_of("vm-2", VmState::provisioning).empty(); }));
    settle();
    EXPECT_EQ(backend.pulls.size(), 1u) << "vm-2 joins the download vm-1 started";

    backend.finish_held_pulls();
    ASSERT_TRUE(run_until([&] { return !link.events_of("vm-2", VmState::running).empty(); }));
    EXPECT_EQ(backend.pulls.size(), 1u);
}
