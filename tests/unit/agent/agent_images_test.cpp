// The agent's image fetching: an image on the host is used as it is, a missing one is pulled once
// for every VM that waits for it, a failed pull fails those VMs, and room is made by evicting the
// least recently used image.

#include "agent_fixture.hpp"

using macvmorx::protocol::VmState;

namespace {

using AgentImages = macvmorx::testing::AgentFixture;

TEST_F(AgentImages, AnImageOnTheHostIsNotPulledAgain) {
    backend.images["ghcr.io/acme/sonoma:1"] = 40;
    start();
    EXPECT_EQ(link.heartbeats.at(0).cached_images, std::vector<std::string>{"ghcr.io/acme/sonoma:1"});

    link.give({create_vm("c1", "vm-1", "ghcr.io/acme/sonoma:1")});
    ASSERT_TRUE(run_until([&] { return !link.events_of("vm-1", VmState::running).empty(); }));

    EXPECT_TRUE(backend.pulls.empty());
    EXPECT_EQ(backend.started.size(), 1u);
}

TEST_F(AgentImages, AMissingImageIsPulledThenTheVmStartsAndTheImageStaysForTheNext) {
    start();
    link.give({create_vm("c1", "vm-1", "ghcr.io/acme/sonoma:1")});
    ASSERT_TRUE(run_until([&] { return !link.events_of("vm-1", VmState::running).empty(); }));
    EXPECT_EQ(backend.pulls, std::vector<std::string>{"ghcr.io/acme/sonoma:1"});
    EXPECT_FALSE(link.events_of("vm-1", VmState::provisioning).empty()); // waiting, progress, booting

    link.give({create_vm("c2", "vm-2", "ghcr.io/acme/sonoma:1")});
    ASSERT_TRUE(run_until([&] { return !link.events_of("vm-2", VmState::running).empty(); }));

    EXPECT_EQ(backend.pulls.size(), 1u);
    EXPECT_EQ(agent->build_heartbeat().cached_images, std::vector<std::string>{"ghcr.io/acme/sonoma:1"});
}

TEST_F(AgentImages, TwoVmsWaitingForOneImageShareOnePull) {
    start();
    link.give({create_vm("c1", "vm-1", "ghcr.io/acme/sonoma:1"), create_vm("c2", "vm-2", "ghcr.io/acme/sonoma:1")});
    ASSERT_TRUE(run_until([&] {
        return !link.events_of("vm-1", VmState::running).empty() && !link.events_of("vm-2", VmState::running).empty();
    }));

    EXPECT_EQ(backend.pulls.size(), 1u);
    EXPECT_EQ(backend.started.size(), 2u);
}

TEST_F(AgentImages, APullFailureIsReportedAsTheFailureOfTheVmThatWaited) {
    backend.pull_outcome = macvmorx::agent::Outcome::failure("registry: connection reset");
    start();
    link.give({create_vm("c1", "vm-1", "ghcr.io/acme/sonoma:1")});
    ASSERT_TRUE(run_until([&] { return !link.events_of("vm-1", VmState::failed).empty(); }));

    EXPECT_EQ(link.events_of("vm-1", VmState::failed).at(0).message,
              "pulling image ghcr.io/acme/sonoma:1 failed: registry: connection reset");
    EXPECT_TRUE(backend.started.empty());
    EXPECT_FALSE(vm("vm-1"));
    EXPECT_TRUE(agent->status().cached_images.empty());
}

TEST_F(AgentImages, TheLeastRecentlyUsedImageIsEvictedToMakeRoom) {
    options.max_cached_images = 1;
    backend.images["ghcr.io/acme/ventura:1"] = 40;
    start();
    link.give({create_vm("c1", "vm-1", "ghcr.io/acme/sonoma:1")});
    ASSERT_TRUE(run_until([&] { return !link.events_of("vm-1", VmState::running).empty(); }));

    EXPECT_EQ(backend.deleted_images, std::vector<std::string>{"ghcr.io/acme/ventura:1"});
    EXPECT_EQ(agent->status().cached_images, std::vector<std::string>{"ghcr.io/acme/sonoma:1"});
}

TEST_F(AgentImages, AnImageInUseIsNotEvictedAndTheVmThatFindsNoRoomFails) {
    options.max_cached_images = 1;
    backend.images["ghcr.io/acme/ventura:1"] = 40;
    start();
    link.give({create_vm("c1", "vm-1", "ghcr.io/acme/ventura:1")});
    ASSERT_TRUE(run_until([&] { return !link.events_of("vm-1", VmState::running).empty(); }));

    link.give({create_vm("c2", "vm-2", "ghcr.io/acme/sonoma:1")});
    ASSERT_TRUE(run_until([&] { return !link.events_of("vm-2", VmState::failed).empty(); }));

    EXPECT_NE(link.events_of("vm-2", VmState::failed).at(0).message.find("no room for image"), std::string::npos);
    EXPECT_TRUE(backend.deleted_images.empty());
    EXPECT_TRUE(backend.pulls.empty());
}

} // namespace

// Issue 21: a bucket object is an image like any other to the agent: the backend fetches it
// (TartBackend downloads and imports it), once for every VM that waits for it.
TEST_F(AgentImages, ABucketImageIsFetchedOnceByTheBackendForEveryVmThatWaits) {
    start();
    link.give({create_vm("c1", "vm-1", "s3://acme-images/macos/sequoia.tvm"),
               create_vm("c2", "vm-2", "s3://acme-images/macos/sequoia.tvm")});
    ASSERT_TRUE(run_until([&] { return backend.started.size() == 2; }));

    EXPECT_EQ(backend.pulls, std::vector<std::string>{"s3://acme-images/macos/sequoia.tvm"});
    EXPECT_EQ(backend.started[0].image, "s3://acme-images/macos/sequoia.tvm");
}

// A malformed one (which the daemon refuses; an agent checks anyway) fails its VM saying what is
// wrong, and nothing is asked of the backend.
TEST_F(AgentImages, AVmOfAMalformedBucketObjectFailsSayingWhatIsWrong) {
    start();
    link.give({create_vm("c1", "vm-1", "gs://acme-images/../other-lab/sequoia.tvm")});
    ASSERT_TRUE(run_until([&] { return !link.events_of("vm-1", VmState::failed).empty(); }));

    const auto message = link.events_of("vm-1", VmState::failed).at(0).message;
    EXPECT_NE(message.find("image gs://acme-images/../other-lab/sequoia.tvm: "), std::string::npos) << message;
    EXPECT_NE(message.find(".."), std::string::npos) << message;
    EXPECT_TRUE(backend.pulls.empty());
    EXPECT_TRUE(backend.started.empty());
}
