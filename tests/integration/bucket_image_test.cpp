// Images in a storage bucket, end to end: `macvmorx agent` downloads an `s3://` object from
// s3rver (a third-party S3 server on a loopback port) or a `gs://` one from the Cloud Storage
// stand-in, verifies it, imports it into the fake tart under its local name (or installs a
// restore image), and clones VMs from it; failures reach the VM's record with the reason.

#include "tart_agent_fixture.hpp"

#include "fake_cloud_storage.hpp"
#include "s3rver.hpp"
#include "test_keys.hpp"

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

using macvmorx::testing::FakeCloudStorage;

constexpr const char* gcs_image = "gs://acme-images/macos/sequoia.tvm";

// The same, from Cloud Storage's JSON API (the stand-in of fake_cloud_storage.hpp, through
// STORAGE_EMULATOR_HOST), with a service account's key as an operator gives it.
class CloudStorageImage : public BucketImage {
protected:
    void SetUp() override {
        BucketImage::SetUp();
        storage.put("acme-images", "macos/sequoia.tvm", archive);
        storage.require_tokens();
        const auto& key = macvmorx::testing::shared_rsa_key();
        storage.add_service_account("images@acme.iam.gserviceaccount.com", key.public_pem);
        std::ofstream(state / "gcs-key.json") << nlohmann::json{{"type", "service_account"},
                                                                {"client_email", "images@acme.iam.gserviceaccount.com"},
                                                                {"private_key", key.private_pem},
                                                                {"token_uri", storage.url() + "/token"}}
                                                     .dump();
    }
    std::vector<std::string> gcs_environment() const {
        return {"STORAGE_EMULATOR_HOST=" + storage.host(), "GOOGLE_APPLICATION_CREDENTIALS=" + (state / "gcs-key.json").string()};
    }

    FakeCloudStorage storage;
    const std::string gcs_local_name = macvmorx::protocol::local_vm_name(macvmorx::protocol::image_source(gcs_image));
};

TEST_F(CloudStorageImage, VmsOfAGsImageRunFromOneDownloadOfTheJsonApiWithAServiceAccountsToken) {
    TestDaemon daemon;
    auto client = daemon.client();
    start_agent(daemon.port(), {}, gcs_environment());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();

    ASSERT_EQ(place(client, "vm-a", gcs_image), 200);
    ASSERT_EQ(place(client, "vm-b", gcs_image), 200);
    ASSERT_TRUE(vm_is(client, "vm-a", "running")) << client.get("/api/vms/vm-a").body << agent->output();
    ASSERT_TRUE(vm_is(client, "vm-b", "running")) << client.get("/api/vms/vm-b").body << agent->output();

    EXPECT_EQ(storage.media_ranges(), (std::vector<std::string>{"bytes=0-"})) << "one download for both VMs";
    EXPECT_GE(storage.tokens_issued(), 1);
    EXPECT_EQ(calls_starting(state, "import "), 1u) << calls();
    EXPECT_NE(calls().find("clone " + gcs_local_name + " macvmorx-vm-a"), std::string::npos) << calls();
    ASSERT_TRUE(eventually([&] { return get(client, "/api/nodes/mac-tart")["cachedImages"] == json({gcs_image}); }))
        << get(client, "/api/nodes/mac-tart").dump();
}

TEST_F(CloudStorageImage, DamagedBytesFailTheVmWithImageChecksumMismatchAfterOneMoreTryAndNothingIsImported) {
    storage.corrupt("acme-images", "macos/sequoia.tvm");
    TestDaemon daemon;
    auto client = daemon.client();
    start_agent(daemon.port(), {}, gcs_environment());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(place(client, "vm-g", gcs_image), 200);
    ASSERT_TRUE(vm_is(client, "vm-g", "failed")) << agent->output();

    const std::string reason = get(client, "/api/vms/vm-g")["failureReason"];
    EXPECT_NE(reason.find("imageChecksumMismatch: gs://acme-images/macos/sequoia.tvm: Cloud Storage crc32c"), std::string::npos)
        << reason;
    EXPECT_EQ(storage.media_ranges(), (std::vector<std::string>{"bytes=0-", "bytes=0-"})) << "once more from scratch, and not placed again";
    EXPECT_EQ(get(client, "/api/vms/vm-g")["attempts"], 1);
    EXPECT_EQ(calls_starting(state, "import "), 0u) << calls();
}

TEST_F(CloudStorageImage, AKeyOfAnotherAccountFailsTheVmSayingWhichFileAndWhatTheTokenServiceSaid) {
    storage.add_service_account("images@acme.iam.gserviceaccount.com", macvmorx::testing::make_rsa_key().public_pem);
    TestDaemon daemon;
    auto client = daemon.client();
    start_agent(daemon.port(), {}, gcs_environment());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(place(client, "vm-g", gcs_image), 200);
    ASSERT_TRUE(vm_is(client, "vm-g", "failed")) << agent->output();

    const std::string reason = get(client, "/api/vms/vm-g")["failureReason"];
    EXPECT_NE(reason.find("Invalid JWT Signature"), std::string::npos) << reason;
    EXPECT_NE(reason.find((state / "gcs-key.json").string()), std::string::npos) << reason;
    EXPECT_TRUE(storage.media_ranges().empty());
}

// The lab's peers, end to end: three Macs, each VM placed on the next by a label. The first
// downloads from the bucket; the second takes the image from the first, asking the bucket only
// what the object is; once both are gone, the third takes it from the bucket.
TEST_F(CloudStorageImage, ASecondMacTakesTheImageFromTheFirstAndAThirdFromTheBucketOnceTheyAreGone) {
    TestDaemon daemon;
    auto client = daemon.client();
    const auto place_on = [&](const std::string& vm_id, const std::string& mac) {
        return client
            .post_json("/api/schedule-vm", json{{"imageName", gcs_image}, {"vmId", vm_id}, {"labels", {{"mac", mac}}}}.dump())
            .status;
    };
    start_agent(daemon.port(), {"--peer-listen", "127.0.0.1:0", "--label", "mac=one"}, gcs_environment());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_TRUE(eventually([&] { return place_on("vm-a", "one") == 200; })) << agent->output();
    ASSERT_TRUE(vm_is(client, "vm-a", "running")) << agent->output();
    EXPECT_EQ(storage.media_ranges(), (std::vector<std::string>{"bytes=0-"}));
    const std::string peer_url = get(client, "/api/nodes/mac-tart").value("peerUrl", "");
    EXPECT_TRUE(peer_url.starts_with("http://127.0.0.1:")) << get(client, "/api/nodes/mac-tart").dump();
    // The daemon offers a Mac as a peer once its heartbeat lists the image, which can come after
    // the VM runs; until then the second would be told to wait for the first's bucket fetch.
    ASSERT_TRUE(eventually([&] { return get(client, "/api/nodes/mac-tart")["cachedImages"] == json({gcs_image}); }));
    // The first keeps the verified archive for its peers.
    EXPECT_TRUE(std::filesystem::exists(state / "image-downloads" / (gcs_local_name + ".tvm.manifest.json")));

    const auto second_state = state / "mac-two";
    others.push_back(launch_agent(daemon.port(), "mac-two", second_state, {"--peer-listen", "127.0.0.1:0", "--label", "mac=two"},
                                  gcs_environment()));
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-two").status == 200; })) << others.back()->output();
    ASSERT_TRUE(eventually([&] { return place_on("vm-b", "two") == 200; }));
    ASSERT_TRUE(vm_is(client, "vm-b", "running")) << others.back()->output() << "\nthe first Mac:\n" << agent->output();
    EXPECT_EQ(storage.media_ranges(), (std::vector<std::string>{"bytes=0-"})) << "no byte of it from the bucket";
    EXPECT_NE(others.back()->output().find("GB from peers, 0.0 GB from the bucket"), std::string::npos) << others.back()->output();
    EXPECT_EQ(calls_starting(second_state, "import "), 1u);

    // Both go away without a word (the daemon still names them until they time out).
    kill_agent();
    others.back()->signal(SIGKILL);
    ASSERT_TRUE(others.back()->wait_for_exit(std::chrono::seconds{10}).has_value());
    const auto third_state = state / "mac-three";
    others.push_back(launch_agent(daemon.port(), "mac-three", third_state, {"--label", "mac=three"}, gcs_environment()));
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-three").status == 200; })) << others.back()->output();
    ASSERT_TRUE(eventually([&] { return place_on("vm-c", "three") == 200; }));
    ASSERT_TRUE(vm_is(client, "vm-c", "running")) << others.back()->output();
    EXPECT_EQ(storage.media_ranges(), (std::vector<std::string>{"bytes=0-", "bytes=0-"}));
    // Without --peer-listen, the archive goes once imported.
    EXPECT_FALSE(std::filesystem::exists(third_state / "image-downloads" / (gcs_local_name + ".tvm")));
}

// A restore image becomes a base VM by tart's install from it, under the object's local name.
TEST_F(BucketImage, AnIpswObjectIsInstalledIntoABaseVmWithTartCreateFromIpsw) {
    constexpr const char* ipsw = "s3://images/macos/UniversalMac_15.1_Restore.ipsw";
    s3.put("images", "macos/UniversalMac_15.1_Restore.ipsw", std::string("PK\x03\x04", 4) + archive);
    const std::string local = macvmorx::protocol::local_vm_name(macvmorx::protocol::image_source(ipsw));
    TestDaemon daemon;
    auto client = daemon.client();
    start_agent(daemon.port(), {}, environment());
    ASSERT_TRUE(eventually([&] { return client.get("/api/nodes/mac-tart").status == 200; })) << agent->output();
    ASSERT_EQ(place(client, "vm-i", ipsw), 200);
    ASSERT_TRUE(vm_is(client, "vm-i", "running")) << client.get("/api/vms/vm-i").body << agent->output();

    const auto downloaded = state / "image-downloads" / (local + ".ipsw");
    EXPECT_NE(calls().find("create " + local + " --from-ipsw " + downloaded.string()), std::string::npos) << calls();
    EXPECT_EQ(calls_starting(state, "import "), 0u) << calls();
    EXPECT_FALSE(std::filesystem::exists(downloaded));
    ASSERT_TRUE(eventually([&] { return get(client, "/api/nodes/mac-tart")["cachedImages"] == json({ipsw}); }))
        << get(client, "/api/nodes/mac-tart").dump();
}

} // namespace
