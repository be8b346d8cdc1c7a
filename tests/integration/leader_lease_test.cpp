// The leader's lease and its fence on a real PostgreSQL (tests/support/postgres_cluster.hpp):
// who leads, how the epoch moves, and that a leader whose lease another daemon took writes
// nothing more. Time passing is the database's: a lease is made to expire by setting its expiry
// in the past, as the database's clock would.

#include "postgres_cluster.hpp"

#include "macvmorx/storage/durable_store.hpp"
#include "macvmorx/storage/leader_lease.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <atomic>
#include <memory>

using macvmorx::storage::DurableStore;
using macvmorx::storage::LeaderLease;
using macvmorx::storage::PostgresOptions;
using macvmorx::storage::WriteFence;

namespace {

class LeaderLeaseTest : public ::testing::Test {
protected:
    void SetUp() override {
        url = macvmorx::testing::shared_postgres().create_database();
        // The schema, the lease's table included, as a daemon's start makes it.
        DurableStore migrate{PostgresOptions{url, std::chrono::seconds{5}}, nullptr};
    }

    LeaderLease lease_of(const std::string& holder) {
        return LeaderLease{url, holder, "http://" + holder + ":9000", std::chrono::seconds{30}};
    }

    // As if the lease's time had run out, by the database's clock.
    void expire_the_lease() {
        pqxx::connection connection{url};
        pqxx::work work{connection};
        work.exec("UPDATE leader_lease SET expires_at = clock_timestamp() - interval '1 millisecond'");
        work.commit();
    }

    std::string url;
};

macvmorx::lifecycle::VmRecord vm_named(const std::string& id) {
    macvmorx::lifecycle::VmRecord vm;
    vm.vm_id = id;
    vm.spec.image_name = "ghcr.io/acme/macos:15";
    return vm;
}

} // namespace

TEST_F(LeaderLeaseTest, TheFirstDaemonLeadsAndTheOthersFollowItsUrl) {
    auto a = lease_of("a");
    auto b = lease_of("b");
    const auto first = a.attempt();
    EXPECT_TRUE(first.leading);
    EXPECT_EQ(first.epoch, 1u);
    const auto second = b.attempt();
    EXPECT_FALSE(second.leading);
    EXPECT_EQ(second.epoch, 1u);
    EXPECT_EQ(second.leader_url, "http://a:9000");
    const auto renewed = a.attempt();
    EXPECT_TRUE(renewed.leading);
    EXPECT_EQ(renewed.epoch, 1u) << "renewing keeps the epoch";
}

TEST_F(LeaderLeaseTest, AnExpiredLeaseGoesToTheNextDaemonWithTheNextEpoch) {
    auto a = lease_of("a");
    auto b = lease_of("b");
    ASSERT_TRUE(a.attempt().leading);
    expire_the_lease();
    const auto taken = b.attempt();
    EXPECT_TRUE(taken.leading);
    EXPECT_EQ(taken.epoch, 2u);
    const auto old = a.attempt();
    EXPECT_FALSE(old.leading) << "the old leader cannot renew a lease another daemon took";
    EXPECT_EQ(old.leader_url, "http://b:9000");
}

TEST_F(LeaderLeaseTest, ReleasingLetsAFollowerLeadAtOnce) {
    auto a = lease_of("a");
    auto b = lease_of("b");
    ASSERT_TRUE(a.attempt().leading);
    EXPECT_FALSE(b.attempt().leading);
    a.release();
    const auto taken = b.attempt();
    EXPECT_TRUE(taken.leading);
    EXPECT_EQ(taken.epoch, 2u);
}

TEST_F(LeaderLeaseTest, TheOldLeadersWritesAreRefusedOnceAnotherLeadsAndNeverRetried) {
    auto a = lease_of("a");
    auto fence = std::make_shared<WriteFence>("a");
    DurableStore store{PostgresOptions{url, std::chrono::seconds{5}}, fence};
    std::atomic<int> fenced{0};
    store.set_fenced_handler([&] { ++fenced; });

    fence->hold(a.attempt().epoch);
    store.vm_changed(vm_named("vm-before"));
    ASSERT_TRUE(store.flush()) << "the leader writes while it holds the lease";

    // a is paused past its lease (SIGSTOP); b takes over.
    expire_the_lease();
    auto b = lease_of("b");
    ASSERT_TRUE(b.attempt().leading);

    std::atomic<int> answers{0};
    std::atomic<bool> durable{true};
    store.vm_changed(vm_named("vm-after"));
    store.when_durable(store.ticket(), [&](bool ok) {
        durable = ok;
        ++answers;
    });
    EXPECT_FALSE(store.flush());
    EXPECT_EQ(answers.load(), 1);
    EXPECT_FALSE(durable.load()) << "a write of the old leader was acknowledged";
    EXPECT_EQ(fenced.load(), 1);
    EXPECT_TRUE(store.failing());

    // Later changes are refused at once, and the handler is not told again.
    bool later = true;
    store.vm_changed(vm_named("vm-later"));
    store.when_durable(store.ticket(), [&](bool ok) { later = ok; });
    EXPECT_FALSE(later);
    EXPECT_EQ(fenced.load(), 1);

    pqxx::connection connection{url};
    pqxx::work work{connection};
    EXPECT_EQ(work.exec("SELECT vm_id FROM vms ORDER BY vm_id").size(), 1u) << "only vm-before is in the database";
}

TEST_F(LeaderLeaseTest, AFollowerWritesNothing) {
    auto fence = std::make_shared<WriteFence>("never-leads");
    DurableStore store{PostgresOptions{url, std::chrono::seconds{5}}, fence};
    store.vm_changed(vm_named("vm-1"));
    EXPECT_FALSE(store.flush());
    pqxx::connection connection{url};
    pqxx::work work{connection};
    EXPECT_TRUE(work.exec("SELECT 1 FROM vms").empty());
}
