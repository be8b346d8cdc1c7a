#include "macvmorx/storage/durable_store.hpp"

#include "macvmorx/base/timestamp.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using macvmorx::lifecycle::VmRecord;
using macvmorx::protocol::VmState;
using macvmorx::storage::DurableStore;
using macvmorx::storage::StorageError;

namespace {

class DurableStoreTest : public ::testing::Test {
protected:
    std::filesystem::path directory =
        std::filesystem::temp_directory_path() /
        ("macvmorx-store-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());

    void SetUp() override { std::filesystem::remove_all(directory); }
    void TearDown() override { std::filesystem::remove_all(directory); }

    static VmRecord sample_vm(const std::string& id) {
        VmRecord vm;
        vm.vm_id = id;
        vm.spec.image_name = "ghcr.io/acme/macos-sonoma:15";
        vm.spec.labels = {{"arch", "arm64"}, {"xcode", ""}};
        vm.spec.cpu = 4;
        vm.spec.memory_gb = 8.5;
        vm.spec.metadata_json = R"({"job":42})";
        vm.state = VmState::provisioning;
        vm.node_id = "mac-1";
        vm.image_cached = true;
        vm.created_at = macvmorx::from_unix_millis(1'000);
        vm.updated_at = macvmorx::from_unix_millis(2'000);
        vm.assigned_at = macvmorx::from_unix_millis(1'500);
        vm.attempts = 2;
        vm.failure_reason = "boot failed on mac-0";
        vm.message = "downloading";
        vm.progress = 0.25;
        vm.transitions = {{VmState::pending, macvmorx::from_unix_millis(1'000), "", "requested"},
                          {VmState::assigned, macvmorx::from_unix_millis(1'500), "mac-1", "the node holds the image"}};
        vm.host_vm_id = "host-name";
        vm.seen_on_host = true;
        vm.reserved = true;
        vm.delete_acked = true;
        vm.deleting_since = macvmorx::from_unix_millis(3'000);
        vm.previous_nodes = {"mac-0"};
        return vm;
    }
};

} // namespace

TEST_F(DurableStoreTest, WhatIsWrittenComesBackWholeAfterAReopen) {
    {
        DurableStore store{directory};
        store.vm_changed(sample_vm("vm-1"));
        auto second = sample_vm("vm-2");
        second.spec.cpu.reset();
        second.progress.reset();
        store.vm_changed(second);
        store.queue_joined("vm-1", false);
        store.queue_joined("vm-2", true);
        store.node_settings_changed({"mac-1", true, {{"pool", "ios"}}});
        ASSERT_TRUE(store.flush());
    }
    DurableStore store{directory};
    const auto state = store.load();
    ASSERT_EQ(state.vms.size(), 2u);
    const auto& vm = state.vms[0].vm_id == "vm-1" ? state.vms[0] : state.vms[1];
    const auto expected = sample_vm("vm-1");
    EXPECT_EQ(vm.spec.image_name, expected.spec.image_name);
    EXPECT_EQ(vm.spec.labels, expected.spec.labels);
    EXPECT_EQ(vm.spec.cpu, 4);
    EXPECT_EQ(vm.spec.memory_gb, 8.5);
    EXPECT_EQ(vm.spec.metadata_json, expected.spec.metadata_json);
    EXPECT_EQ(vm.state, VmState::provisioning);
    EXPECT_EQ(vm.node_id, "mac-1");
    EXPECT_EQ(vm.created_at, expected.created_at);
    EXPECT_EQ(vm.assigned_at, expected.assigned_at);
    EXPECT_EQ(vm.attempts, 2);
    EXPECT_EQ(vm.failure_reason, expected.failure_reason);
    EXPECT_EQ(vm.progress, 0.25);
    ASSERT_EQ(vm.transitions.size(), 2u);
    EXPECT_EQ(vm.transitions[1].state, VmState::assigned);
    EXPECT_EQ(vm.transitions[1].node_id, "mac-1");
    EXPECT_EQ(vm.host_vm_id, "host-name");
    EXPECT_TRUE(vm.seen_on_host && vm.reserved && vm.delete_acked);
    EXPECT_EQ(vm.deleting_since, expected.deleting_since);
    EXPECT_EQ(vm.previous_nodes, expected.previous_nodes);
    EXPECT_EQ(state.queue, (std::vector<std::string>{"vm-2", "vm-1"}));
    ASSERT_EQ(state.nodes.size(), 1u);
    EXPECT_TRUE(state.nodes[0].drained);
    EXPECT_EQ(state.nodes[0].operator_labels, (macvmorx::protocol::Labels{{"pool", "ios"}}));
}

TEST_F(DurableStoreTest, RemovalsAndTheLatestChangeWin) {
    {
        DurableStore store{directory};
        auto vm = sample_vm("vm-1");
        store.vm_changed(vm);
        vm.state = VmState::running;
        store.vm_changed(vm);
        store.vm_changed(sample_vm("vm-2"));
        store.vm_removed("vm-2");
        store.node_settings_changed({"mac-1", true, {}});
        store.node_settings_removed("mac-1");
    }
    DurableStore store{directory};
    const auto state = store.load();
    ASSERT_EQ(state.vms.size(), 1u);
    EXPECT_EQ(state.vms[0].state, VmState::running);
    EXPECT_TRUE(state.nodes.empty());
}

TEST_F(DurableStoreTest, WaitersAreToldOnceTheirChangeIsOnDisk) {
    DurableStore store{directory};
    std::atomic<bool> durable{false};
    store.vm_changed(sample_vm("vm-1"));
    store.when_durable(store.ticket(), [&](bool ok) { durable = ok; });
    ASSERT_TRUE(store.flush());
    EXPECT_TRUE(durable);
    bool at_once = false;
    store.when_durable(store.ticket(), [&](bool ok) { at_once = ok; });
    EXPECT_TRUE(at_once) << "nothing pending: answered at once";
}

TEST_F(DurableStoreTest, AFileThatIsNotADatabaseIsAClearErrorNotAReset) {
    std::filesystem::create_directories(directory);
    {
        std::ofstream garbage{directory / "macvmorx.db"};
        garbage << std::string(8192, 'x');
    }
    try {
        DurableStore store{directory};
        FAIL() << "a corrupt file was accepted";
    } catch (const StorageError& error) {
        EXPECT_NE(std::string(error.what()).find("macvmorx.db"), std::string::npos) << error.what();
    }
    EXPECT_EQ(std::filesystem::file_size(directory / "macvmorx.db"), 8192u) << "the file was not touched";
}

TEST_F(DurableStoreTest, AnUnusableDirectoryIsAClearError) {
    std::filesystem::create_directories(directory);
    { std::ofstream file{directory / "plain-file"}; }
    EXPECT_THROW(DurableStore{directory / "plain-file" / "data"}, StorageError);
    EXPECT_THROW(DurableStore{directory / "plain-file"}, StorageError);
}
