#include "open_files.hpp"

#include <sys/resource.h>

#include <algorithm>

namespace macvmorx::app {

OpenFilesLimit raise_open_files_limit(std::uint64_t wanted) {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return {};
    OpenFilesLimit result;
    result.before = limit.rlim_cur;
    result.hard = limit.rlim_max;
    result.after = limit.rlim_cur;
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
        const auto target = limit.rlim_max == RLIM_INFINITY ? static_cast<rlim_t>(wanted)
                                                            : std::min<rlim_t>(limit.rlim_max, static_cast<rlim_t>(wanted));
        rlimit raised{target, limit.rlim_max};
        // macOS refuses more than OPEN_MAX with an unlimited hard limit: the old limit stays then.
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) result.after = target;
    }
    return result;
}

} // namespace macvmorx::app
