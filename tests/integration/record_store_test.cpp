// The records' store on each engine it runs on: SQLite in a data directory (a daemon alone) and
// a real PostgreSQL (several daemons; tests/support/postgres_cluster.hpp). The same tests, both
// engines: what one keeps, the other keeps the same way.

#include "postgres_cluster.hpp"
#include "storage/schema_migrations.hpp"
#include "test_directory.hpp"

#include "macvmorx/base/timestamp.hpp"
#include "macvmorx/storage/durable_store.hpp"
#include "macvmorx/storage/leader_lease.hpp"

#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>

#include <map>
#include <pqxx/pqxx>

#include <atomic>
#include <memory>

using macvmorx::lifecycle::VmRecord;
using macvmorx::protocol::VmState;
using macvmorx::storage::DurableStore;
using macvmorx::storage::StorageError;
using macvmorx::testing::TestDirectory;

namespace {

enum class Engine { sqlite, postgres };

class RecordStoreTest : public ::testing::TestWithParam<Engine> {
protected:
    void SetUp() override {
        if (GetParam() == Engine::postgres) url = macvmorx::testing::shared_postgres().create_database();
    }

    // The store on this test's database, as a daemon opens it at start.
    std::unique_ptr<DurableStore> open() {
        if (GetParam() == Engine::sqlite) return std::make_unique<DurableStore>(directory.path());
        return std::make_unique<DurableStore>(macvmorx::storage::PostgresOptions{url, std::chrono::seconds{5}}, nullptr);
    }

    // As a newer macvmorx would leave the database: a migration this binary does not know.
    void record_migration_99() {
        if (GetParam() == Engine::sqlite) {
            SQLite::Database db{(directory / "macvmorx.db").string(), SQLite::OPEN_READWRITE};
            db.exec("UPDATE meta SET value = '99' WHERE key = 'schema_version'");
            return;
        }
        pqxx::connection connection{url};
        pqxx::work work{connection};
        work.exec("INSERT INTO schema_migrations (version, description) VALUES (99, 'from the future')");
        work.commit();
    }

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

    TestDirectory directory{"records"};
    std::string url;
};

std::string engine_name(const ::testing::TestParamInfo<Engine>& info) {
    return info.param == Engine::sqlite ? "SQLite" : "PostgreSQL";
}

} // namespace

INSTANTIATE_TEST_SUITE_P(Engines, RecordStoreTest, ::testing::Values(Engine::sqlite, Engine::postgres), engine_name);

TEST_P(RecordStoreTest, WhatIsWrittenComesBackWholeAfterAReopen) {
    {
        auto store_owner = open(); auto& store = *store_owner;
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
    auto store_owner = open(); auto& store = *store_owner;
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

TEST_P(RecordStoreTest, RemovalsAndTheLatestChangeWin) {
    {
        auto store_owner = open(); auto& store = *store_owner;
        auto vm = sample_vm("vm-1");
        store.vm_changed(vm);
        vm.state = VmState::running;
        store.vm_changed(vm);
        store.vm_changed(sample_vm("vm-2"));
        store.vm_removed("vm-2");
        store.node_settings_changed({"mac-1", true, {}});
        store.node_settings_removed("mac-1");
    }
    auto store_owner = open(); auto& store = *store_owner;
    const auto state = store.load();
    ASSERT_EQ(state.vms.size(), 1u);
    EXPECT_EQ(state.vms[0].state, VmState::running);
    EXPECT_TRUE(state.nodes.empty());
}

TEST_P(RecordStoreTest, WaitersAreToldOnceTheirChangeIsOnDisk) {
    auto store_owner = open(); auto& store = *store_owner;
    std::atomic<bool> durable{false};
    store.vm_changed(sample_vm("vm-1"));
    store.when_durable(store.ticket(), [&](bool ok) { durable = ok; });
    ASSERT_TRUE(store.flush());
    EXPECT_TRUE(durable);
    bool at_once = false;
    store.when_durable(store.ticket(), [&](bool ok) { at_once = ok; });
    EXPECT_TRUE(at_once) << "nothing pending: answered at once";
}

TEST_P(RecordStoreTest, GitHubJobsAndDeliveriesComeBackInTheirOrder) {
    {
        auto store = open();
        macvmorx::actions::JobRecord job;
        job.job_id = 7'000'000'001;
        job.repository = "acme/app";
        job.pool = "macos";
        store->job_changed(job);
        job.job_id = 7'000'000'002;
        store->job_changed(job);
        store->job_removed(7'000'000'002);
        store->delivery_remembered("delivery-b");
        store->delivery_remembered("delivery-a");
        store->delivery_remembered("delivery-a"); // GitHub redelivers: remembered once
        store->delivery_remembered("delivery-c");
        store->delivery_forgotten("delivery-c");
        ASSERT_TRUE(store->flush());
    }
    auto store = open();
    const auto state = store->load();
    ASSERT_EQ(state.jobs.size(), 1u);
    EXPECT_EQ(state.jobs[0].job_id, 7'000'000'001);
    EXPECT_EQ(state.jobs[0].repository, "acme/app");
    EXPECT_EQ(state.deliveries, (std::vector<std::string>{"delivery-b", "delivery-a"}));
}

TEST_P(RecordStoreTest, TheQueueKeepsItsOrderAcrossReopens) {
    {
        auto store = open();
        store->queue_joined("b", false);
        store->queue_joined("c", false);
        store->queue_joined("a", true);
        ASSERT_TRUE(store->flush());
    }
    {
        auto store = open();
        EXPECT_EQ(store->load().queue, (std::vector<std::string>{"a", "b", "c"}));
        // Joining after a reopen goes before the first row kept and after the last.
        store->queue_joined("d", false);
        store->queue_joined("first", true);
        store->queue_left("b");
        ASSERT_TRUE(store->flush());
    }
    auto store = open();
    EXPECT_EQ(store->load().queue, (std::vector<std::string>{"first", "a", "c", "d"}));
}

TEST_P(RecordStoreTest, ManyChangesAreCommittedTogetherAndEveryWaiterIsTold) {
    auto store = open();
    std::atomic<int> told{0};
    for (int i = 0; i < 500; ++i) {
        store->vm_changed(sample_vm("vm-" + std::to_string(i)));
        store->when_durable(store->ticket(), [&](bool ok) { told += ok ? 1 : 0; });
    }
    ASSERT_TRUE(store->flush());
    EXPECT_EQ(told.load(), 500);
    auto reopened = open();
    EXPECT_EQ(reopened->load().vms.size(), 500u);
}

TEST_P(RecordStoreTest, ImagePinsAndAVmsPriorityAndTenantComeBackAfterAReopen) {
    {
        auto store = open();
        auto vm = sample_vm("vm-1");
        vm.spec.priority = -3;
        vm.spec.tenant = "acme/app";
        store->vm_changed(vm);
        store->image_pinned("ghcr.io/acme/sonoma:1", 4);
        store->image_pinned("ghcr.io/acme/ventura:1", 2);
        store->image_pinned("ghcr.io/acme/sonoma:1", 6); // the latest wins
        ASSERT_TRUE(store->flush());
        store->image_pinned("ghcr.io/acme/ventura:1", 0); // unpinned
        ASSERT_TRUE(store->flush());
    }
    auto store = open();
    const auto state = store->load();
    EXPECT_EQ(state.image_pins, (std::map<std::string, int>{{"ghcr.io/acme/sonoma:1", 6}}));
    ASSERT_EQ(state.vms.size(), 1u);
    EXPECT_EQ(state.vms[0].spec.priority, -3);
    EXPECT_EQ(state.vms[0].spec.tenant, "acme/app");
}

TEST_P(RecordStoreTest, ADatabaseOfANewerMacvmorxIsRefused) {
    { auto store = open(); }
    record_migration_99();
    try {
        auto store = open();
        FAIL() << "a database of schema 99 was opened";
    } catch (const macvmorx::storage::SchemaTooNew& error) {
        EXPECT_NE(std::string(error.what()).find("newer macvmorx (schema 99"), std::string::npos) << error.what();
    }
}

TEST(PostgresRecords, AnUnreachableDatabaseIsAClearErrorNamingItWithoutItsPassword) {
    // A port nothing listens on: connecting is refused at once, and retried until the wait ends.
    const std::string url = "postgresql://fleet:hunter2@127.0.0.1:1/records";
    const auto started = std::chrono::steady_clock::now();
    try {
        DurableStore store{macvmorx::storage::PostgresOptions{url, std::chrono::milliseconds{1500}}, nullptr};
        FAIL() << "a store was opened on nothing";
    } catch (const macvmorx::storage::DatabaseUnreachable& error) {
        const std::string message = error.what();
        EXPECT_NE(message.find("postgresql://fleet@127.0.0.1:1/records"), std::string::npos) << message;
        EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
    }
    const auto waited = std::chrono::steady_clock::now() - started;
    EXPECT_GE(waited, std::chrono::milliseconds{700}) << "gave up without retrying";
    EXPECT_LT(waited, std::chrono::seconds{10}) << "the wait is bounded";
}

TEST(PostgresRecords, MigrationsAreRecordedOnceEvenWhenDaemonsStartTogether) {
    const auto url = macvmorx::testing::shared_postgres().create_database();
    std::vector<std::thread> starts;
    std::atomic<int> opened{0};
    for (int i = 0; i < 4; ++i) {
        starts.emplace_back([&] {
            DurableStore store{macvmorx::storage::PostgresOptions{url, std::chrono::seconds{5}}, nullptr};
            ++opened;
        });
    }
    for (auto& start : starts) start.join();
    EXPECT_EQ(opened.load(), 4);
    pqxx::connection connection{url};
    pqxx::work work{connection};
    // Each of the binary's migrations once, however many daemons applied them at once.
    const auto expected = static_cast<int>(macvmorx::storage::postgres_migrations().size());
    EXPECT_EQ(work.exec("SELECT count(*) FROM schema_migrations")[0][0].as<int>(), expected);
    EXPECT_EQ(work.exec("SELECT count(DISTINCT version) FROM schema_migrations")[0][0].as<int>(), expected);
    EXPECT_GE(expected, 2);
}
