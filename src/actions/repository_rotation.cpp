#include "repository_rotation.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

namespace macvmorx::actions {

void RepositoryRotation::heard_of(const std::string& repository, TimePoint now) { recent_[repository] = now; }

void RepositoryRotation::set_organisation_repositories(std::vector<std::string> sorted_names) {
    organisation_repositories_ = std::move(sorted_names);
    organisation_cursor_ =
        organisation_repositories_.empty() ? 0 : organisation_cursor_ % organisation_repositories_.size();
}

std::vector<std::string> RepositoryRotation::choose(std::vector<std::string> worth_asking, TimePoint now,
                                                    std::size_t budget) {
    auto& first = worth_asking;
    for (auto it = recent_.begin(); it != recent_.end();) {
        if (now - it->second > std::chrono::hours{24}) {
            it = recent_.erase(it);
            continue;
        }
        first.push_back(it->first);
        ++it;
    }
    std::sort(first.begin(), first.end());
    first.erase(std::unique(first.begin(), first.end()), first.end());
    std::vector<std::string> repositories;
    for (std::size_t i = 0; i < first.size() && repositories.size() < budget; ++i) {
        repositories.push_back(first[(priority_cursor_ + i) % first.size()]);
    }
    priority_cursor_ = first.empty() ? 0 : (priority_cursor_ + repositories.size()) % first.size();
    const auto& others = organisation_repositories_;
    std::size_t examined = 0;
    for (; examined < others.size() && repositories.size() < budget; ++examined) {
        const auto& name = others[(organisation_cursor_ + examined) % others.size()];
        if (!std::binary_search(first.begin(), first.end(), name)) repositories.push_back(name);
    }
    if (!others.empty()) organisation_cursor_ = (organisation_cursor_ + examined) % others.size();
    return repositories;
}

} // namespace macvmorx::actions
