#pragma once

// Whether this daemon leads, among several on one PostgreSQL (docs/high-availability.md), and
// where the leader is. The daemon's election loop writes it; the gate and /readyz read it.

#include "macvmorx/http/router.hpp"

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace macvmorx::api {

enum class Role {
    follower, // another daemon leads, or none yet: requests go to the leader
    starting, // this daemon holds the lease and is loading the records
    leader,   // this daemon schedules and answers
    // This daemon led, but has not renewed its lease in time (the database is away): it answers
    // reads from memory and refuses writes until it renews the lease, or steps down when it
    // finds another daemon holding it.
    suspended,
};

std::string_view to_string(Role role);

// Threading: safe from any thread.
class Leadership {
public:
    explicit Leadership(std::string self_url) : self_url_{std::move(self_url)} {}

    // Where clients reach this daemon when it leads (--advertise-url); set once the port is
    // bound, before the election starts.
    std::string self_url() const;
    void set_self_url(std::string url);

    Role role() const;
    std::uint64_t epoch() const;
    // The leader's URL while its lease runs; this daemon's own when it leads.
    std::optional<std::string> leader_url() const;

    void follow(std::optional<std::string> leader_url, std::uint64_t epoch);
    void start_leading(std::uint64_t epoch);
    void lead();
    void suspend();

private:
    mutable std::mutex mutex_;
    std::string self_url_;
    Role role_ = Role::follower;
    std::uint64_t epoch_ = 0;
    std::optional<std::string> leader_url_;
};

// The router's gate on a daemon that may follow: a follower answers /healthz, /readyz and
// /metrics itself and sends every other request to the leader with a 307 (the same method and
// body, RFC 9110 §15.4.8), or answers 503 with Retry-After while no leader is known or this one
// is still loading its records. A leader whose database is away (`writes_failing`) refuses the
// writes of operators and CI with 503 and Retry-After, and answers reads from memory; agents'
// reports go on (what they report is kept, and written once the database is back).
class LeaderGate final : public http::RouteGate {
public:
    LeaderGate(const Leadership& leadership, std::function<bool()> writes_failing)
        : leadership_{leadership}, writes_failing_{std::move(writes_failing)} {}
    void check(const http::Route& route, const http::Request& request) const override;

private:
    const Leadership& leadership_;
    std::function<bool()> writes_failing_;
};

} // namespace macvmorx::api
