// Long polls per token: a token holds at most its share; each answer gives its share back.

#include "macvmorx/api/wait_budget.hpp"

#include <gtest/gtest.h>

#include <vector>

using macvmorx::api::WaitBudget;

TEST(WaitBudget, ATokenHoldsItsShareAndNoMoreUntilAnAnswerGivesOneBack) {
    WaitBudget budget{3};
    std::vector<std::shared_ptr<void>> held;
    for (int i = 0; i < 3; ++i) {
        held.push_back(budget.take("rack"));
        ASSERT_TRUE(held.back()) << i;
    }
    EXPECT_FALSE(budget.take("rack")) << "a fourth wait of the same token";
    EXPECT_TRUE(budget.take("mac-1")) << "another token has its own share";
    held.pop_back(); // one answer sent
    EXPECT_TRUE(budget.take("rack"));
}
