#pragma once

#include "macvmorx/base/clock.hpp"

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace macvmorx::actions {

// Which repositories one reconciliation asks GitHub for the jobs waiting there, within its
// budget. First, in turn, those worth asking each time: the ones the caller names (a
// repository-scoped pool's, those with open jobs) and those with news of a job of ours in the
// last day. The rest of the budget goes, in turn, to the organisations' other repositories.
//
// Not locked: WorkflowJobs' mutex guards it.
class RepositoryRotation {
public:
    // News of a job of ours in `repository`.
    void heard_of(const std::string& repository, TimePoint now);
    // The organisations' repositories as GitHub last listed them: sorted, without duplicates.
    void set_organisation_repositories(std::vector<std::string> sorted_names);
    // At most `budget` repositories to ask this time; forgets news older than a day.
    std::vector<std::string> choose(std::vector<std::string> worth_asking, TimePoint now, std::size_t budget);

private:
    std::map<std::string, TimePoint> recent_;            // repository -> last news of a job of ours
    std::size_t priority_cursor_ = 0;                    // through the repositories asked each time
    std::size_t organisation_cursor_ = 0;                // through organisation_repositories_
    std::vector<std::string> organisation_repositories_; // sorted
};

} // namespace macvmorx::actions
