// Which repositories a reconciliation asks, on its own: those worth asking each time come first
// and in turn, news older than a day is forgotten, and the rest of the budget goes in turn to the
// organisations' other repositories.

#include "actions/repository_rotation.hpp"

#include "test_time.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace std::chrono_literals;
using macvmorx::TimePoint;
using macvmorx::actions::RepositoryRotation;

namespace {

using macvmorx::testing::t0;
using Names = std::vector<std::string>;

} // namespace

TEST(RepositoryRotation, AsksThoseWorthAskingInTurnWithinTheBudget) {
    RepositoryRotation rotation;
    const Names worth{"o/c", "o/a", "o/b", "o/a"};
    EXPECT_EQ(rotation.choose(worth, t0, 2), (Names{"o/a", "o/b"}));
    EXPECT_EQ(rotation.choose(worth, t0, 2), (Names{"o/c", "o/a"}));
    EXPECT_EQ(rotation.choose(worth, t0, 2), (Names{"o/b", "o/c"}));
}

TEST(RepositoryRotation, AsksRepositoriesWithRecentNewsUntilTheyAreADayOld) {
    RepositoryRotation rotation;
    rotation.heard_of("o/news", t0);
    EXPECT_EQ(rotation.choose({"o/pool"}, t0 + 24h, 5), (Names{"o/news", "o/pool"}));
    EXPECT_EQ(rotation.choose({"o/pool"}, t0 + 24h + 1s, 5), (Names{"o/pool"}));
    // Forgotten for good, not only skipped.
    EXPECT_EQ(rotation.choose({}, t0, 5), Names{});
}

TEST(RepositoryRotation, TheRestOfTheBudgetGoesToTheOrganisationsRepositoriesInTurn) {
    RepositoryRotation rotation;
    rotation.set_organisation_repositories({"o/a", "o/b", "o/c", "o/d"});
    // o/b is asked anyway: not twice.
    EXPECT_EQ(rotation.choose({"o/b"}, t0, 3), (Names{"o/b", "o/a", "o/c"}));
    EXPECT_EQ(rotation.choose({"o/b"}, t0, 3), (Names{"o/b", "o/d", "o/a"}));
    EXPECT_EQ(rotation.choose({}, t0, 2), (Names{"o/b", "o/c"}));
}

TEST(RepositoryRotation, AShorterListingKeepsItsPlaceWithinRange) {
    RepositoryRotation rotation;
    rotation.set_organisation_repositories({"o/a", "o/b", "o/c"});
    EXPECT_EQ(rotation.choose({}, t0, 2), (Names{"o/a", "o/b"}));
    rotation.set_organisation_repositories({"o/a", "o/b"});
    EXPECT_EQ(rotation.choose({}, t0, 1), (Names{"o/a"}));
    EXPECT_EQ(rotation.choose({}, t0, 1), (Names{"o/b"}));
}
