#include "macvmorx/api/leadership.hpp"

#include "macvmorx/http/http_error.hpp"

namespace macvmorx::api {

std::string_view to_string(Role role) {
    switch (role) {
    case Role::follower: return "follower";
    case Role::starting: return "starting";
    case Role::leader: return "leader";
    case Role::suspended: return "suspended";
    }
    return "follower";
}

std::string Leadership::self_url() const {
    std::lock_guard lock{mutex_};
    return self_url_;
}

void Leadership::set_self_url(std::string url) {
    std::lock_guard lock{mutex_};
    self_url_ = std::move(url);
}

Role Leadership::role() const {
    std::lock_guard lock{mutex_};
    return role_;
}

std::uint64_t Leadership::epoch() const {
    std::lock_guard lock{mutex_};
    return epoch_;
}

std::optional<std::string> Leadership::leader_url() const {
    std::lock_guard lock{mutex_};
    return leader_url_;
}

void Leadership::follow(std::optional<std::string> leader_url, std::uint64_t epoch) {
    std::lock_guard lock{mutex_};
    role_ = Role::follower;
    leader_url_ = std::move(leader_url);
    epoch_ = epoch;
}

void Leadership::start_leading(std::uint64_t epoch) {
    std::lock_guard lock{mutex_};
    role_ = Role::starting;
    leader_url_ = self_url_;
    epoch_ = epoch;
}

void Leadership::lead() {
    std::lock_guard lock{mutex_};
    role_ = Role::leader;
}

void Leadership::suspend() {
    std::lock_guard lock{mutex_};
    role_ = Role::suspended;
}

void LeaderGate::check(const http::Route& route, const http::Request& request) const {
    // What a load balancer and Prometheus ask of every daemon, whichever leads.
    if (route.pattern == "/healthz" || route.pattern == "/readyz" || route.pattern == "/metrics") return;
    const Role role = leadership_.role();
    const bool read = request.method == http::Method::get || request.method == http::Method::head;
    const bool agent_report = route.access == http::Access::report;
    if (role == Role::leader || role == Role::suspended) {
        if (read || agent_report) return;
        if (role == Role::leader && !(writes_failing_ && writes_failing_())) return;
        throw http::ServiceUnavailable("database unavailable",
                                       "the leader cannot write to its database at the moment: reads are answered, "
                                       "changes are refused until it is back")
            .with_header("Retry-After", "2");
    }
    if (role == Role::starting) {
        throw http::ServiceUnavailable("leader starting", "this daemon has just become the leader and is loading its "
                                                          "records; try again in a moment")
            .with_header("Retry-After", "1");
    }
    const auto leader = leadership_.leader_url();
    if (!leader || *leader == leadership_.self_url()) {
        throw http::ServiceUnavailable("no leader", "no daemon leads at the moment (a failover is under way); try "
                                                    "again in a moment")
            .with_header("Retry-After", "1");
    }
    throw http::HttpError(307, "not the leader", "this daemon follows; the leader is " + *leader)
        .with_header("Location", *leader + request.target);
}

} // namespace macvmorx::api
