// Images in a storage bucket, end to end: `macvmorx agent` downloads an `s3://` object from
// s3rver (a third-party S3 server on a loopback port), verifies it, imports it into the fake
// tart under its local name, and clones VMs from it; failures reach the VM's record with the
// reason.

#include "tart_agent_fixture.hpp"

#include "s3rver.hpp"

#include "macvmorx/protocol/image_source.hpp"

#include <random>

namespace {

using macvmorx::testing::S3rver;

constexpr const char* image = "s3://images/macos/sequoia.tvm";

// The calls of the fake tart that begin with `words`.
std::size_t calls_starting(const std::filesystem::path& tart_state, const std::string& words) {
    std::istringstream log{read_file(tart_state / "calls.log")};
    std::size_t count = 0;
    for (std::string line; std::getline(log, line);) count += line.starts_with(words) ? 1 : 0;
    return count;
}

// What `tart export` writes: an Apple Archive compressed with LZFSE, whose stream starts with an
// LZFSE block magic (the fake tart checks that much).
std::string vm_archive(std::size_t size) {
    std::mt19937 generator{7};
    std::string bytes = "bvx2";
    bytes.reserve(size);
    while (bytes.size() < size) bytes += static_cast<char>(generator() & 0xFF);
    return bytes;
}

class BucketImage : public TartAgent {
protected:
    void SetUp() override {
        TartAgent::SetUp();
        s3.put("images", "macos/sequoia.tvm", archive);
    }

    // The agent's environment for the bucket, as an operator would give it.
    std::vector<std::string> environment(const std::string& key_id = S3rver::access_key) const {
        return {"AWS_ENDPOINT_URL_S3=" + s3.endpoint(), "AWS_ACCESS_KEY_ID=" + key_id,
                std::string{"AWS_SECRET_ACCESS_KEY="} + S3rver::secret_key, "AWS_REGION=us-east-1"};
    }

    S3rver s3{{"images"}};
    const std::string archive = vm_archive(1024 * 1024 + 77);
    const std::string local_name = macvmorx::protocol::local_vm_name(macvmorx::protocol::image_source(image));
};

TEST_F(BucketImage, VmsOfAnS3ImageRunFromOneVerifiedDownloadImportedUnderItsLocalName) {
    TestDaemon daemon;
    auto client = daemon.client();
    start_agent(daemon.port(), {}, environment());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();

    ASSERT_EQ(place(client, "vm-a", image), 200);
    ASSERT_EQ(place(client, "vm-b", image), 200);
    ASSERT_TRUE(vm_is(client, "vm-a", "running")) << client.get("/api/vms/vm-a").body << agent->output();
    ASSERT_TRUE(vm_is(client, "vm-b", "running")) << client.get("/api/vms/vm-b").body << agent->output();

    // One download and one import, under the local name; both VMs clone it.
    EXPECT_EQ(calls_starting(state, "import "), 1u) << calls();
    const auto log = calls();
    EXPECT_NE(log.find("import " + (state / "image-downloads" / (local_name + ".tvm")).string() + " " + local_name),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("clone " + local_name + " macvmorx-vm-a"), std::string::npos) << log;
    EXPECT_NE(log.find("clone " + local_name + " macvmorx-vm-b"), std::string::npos) << log;
    EXPECT_NE(agent->output().find("downloaded " + std::string{image}), std::string::npos) << agent->output();

    // The archive is gone once imported; the imported VM is the cached image, under the image's
    // own name everywhere the daemon shows it.
    EXPECT_FALSE(std::filesystem::exists(state / "image-downloads" / (local_name + ".tvm")));
    ASSERT_TRUE(eventually([&] { return get(client, "/api/nodes/mac-tart")["cachedImages"] == json({image}); }))
        << get(client, "/api/nodes/mac-tart").dump();
}

TEST_F(BucketImage, ARestartedAgentKnowsTheImportedVmAsTheImageAndDoesNotDownloadItAgain) {
    TestDaemon daemon;
    auto client = daemon.client();
    start_agent(daemon.port(), {}, environment());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(place(client, "vm-a", image), 200);
    ASSERT_TRUE(vm_is(client, "vm-a", "running")) << agent->output();

    agent.reset(); // stopped as launchd stops it
    start_agent(daemon.port(), {}, environment());
    ASSERT_TRUE(eventually([&] { return get(client, "/api/nodes/mac-tart")["cachedImages"] == json({image}); }, 10s))
        << get(client, "/api/nodes/mac-tart").dump() << agent->output();
    EXPECT_TRUE(std::filesystem::exists(state / "vms" / local_name)) << "the imported VM is no leftover to delete";
    ASSERT_EQ(place(client, "vm-b", image), 200);
    ASSERT_TRUE(vm_is(client, "vm-b", "running")) << agent->output();
    EXPECT_EQ(calls_starting(state, "import "), 1u) << calls();
}

TEST_F(BucketImage, AnObjectItsSidecarDisagreesWithIsTriedOnceMoreThenFailsTheVmNamingBothValuesAndIsNotImported) {
    s3.put("images", "macos/sequoia.tvm.sha256", std::string(64, 'c') + "  sequoia.tvm\n");
    TestDaemon daemon;
    auto client = daemon.client();
    start_agent(daemon.port(), {}, environment());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(place(client, "vm-a", image), 200);
    ASSERT_TRUE(vm_is(client, "vm-a", "failed")) << agent->output();

    const std::string reason = get(client, "/api/vms/vm-a")["failureReason"];
    EXPECT_NE(reason.find("imageChecksumMismatch: s3://images/macos/sequoia.tvm: "), std::string::npos) << reason;
    EXPECT_NE(reason.find(".sha256 sidecar"), std::string::npos) << reason;
    EXPECT_NE(reason.find(std::string(64, 'c')), std::string::npos) << reason;
    EXPECT_EQ(calls_starting(state, "import "), 0u) << calls();
    EXPECT_FALSE(std::filesystem::exists(state / "image-downloads" / (local_name + ".tvm.part")));
    // Tried once more from scratch before the VM failed.
    EXPECT_NE(agent->output().find("downloading it once more from scratch"), std::string::npos) << agent->output();
}

TEST_F(BucketImage, AnUnknownAccessKeyFailsTheVmSayingWhereTheCredentialsCameFrom) {
    TestDaemon daemon;
    auto client = daemon.client();
    start_agent(daemon.port(), {}, environment("AKIDNOTKNOWNHERE"));
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(place(client, "vm-a", image), 200);
    ASSERT_TRUE(vm_is(client, "vm-a", "failed")) << agent->output();

    const std::string reason = get(client, "/api/vms/vm-a")["failureReason"];
    EXPECT_NE(reason.find("403"), std::string::npos) << reason;
    EXPECT_NE(reason.find("credentials from the AWS_* environment variables"), std::string::npos) << reason;
    EXPECT_EQ(calls_starting(state, "import "), 0u) << calls();
}

} // namespace

namespace {

// Until the agent reads Cloud Storage's JSON API, a gs:// VM fails saying how to reach the bucket
// through its S3-compatible XML API instead, and nothing is imported.
TEST_F(BucketImage, AVmOfACloudStorageImageFailsSayingHowToUseTheXmlApiMeanwhile) {
    TestDaemon daemon;
    auto client = daemon.client();
    start_agent(daemon.port(), {}, environment());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(place(client, "vm-g", "gs://acme-images/macos/sequoia.tvm"), 200);
    ASSERT_TRUE(vm_is(client, "vm-g", "failed")) << agent->output();

    const std::string reason = get(client, "/api/vms/vm-g")["failureReason"];
    EXPECT_NE(reason.find("AWS_ENDPOINT_URL_S3=https://storage.googleapis.com"), std::string::npos) << reason;
    EXPECT_EQ(calls_starting(state, "import "), 0u) << calls();
}

} // namespace
