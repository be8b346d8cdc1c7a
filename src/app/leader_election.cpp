#include "leader_election.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace macvmorx::app {

LeaderElection::LeaderElection(storage::LeaderLease& lease, storage::WriteFence& fence, api::Leadership& leadership,
                               metrics::LeadershipMetrics& metrics, Actions actions)
    : lease_{lease}, fence_{fence}, leadership_{leadership}, metrics_{metrics}, actions_{std::move(actions)} {}

LeaderElection::~LeaderElection() { stop(); }

void LeaderElection::start() {
    metrics_.set_leader(false);
    thread_ = std::thread{[this] { run(); }};
}

void LeaderElection::stop() {
    {
        std::lock_guard lock{mutex_};
        if (stopping_ && !thread_.joinable()) return;
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void LeaderElection::fenced() {
    fenced_ = true;
    wake_.notify_all();
}

void LeaderElection::end_term(const std::string& reason) {
    // The fence first: from here no commit of this daemon is written, whatever is in flight.
    fence_.drop();
    leadership_.follow(std::nullopt, leadership_.epoch());
    metrics_.set_leader(false);
    ended_ = true;
    spdlog::critical("stepping down: {}", reason);
    if (actions_.step_down) actions_.step_down(reason);
}

void LeaderElection::run() {
    using Steady = std::chrono::steady_clock;
    const auto duration = lease_.duration();
    // Every second (a third of a shorter lease): a follower learns of a released lease at once.
    const auto period = std::min<Duration>(duration / 3, std::chrono::seconds{1});
    // A leader stops answering as one well before the database would let its lease expire: the
    // database's expiry is counted from when it ran the renewal, after this side started it.
    const auto hold_for = duration - duration / 6;
    Steady::time_point renewed_at{};
    bool unreachable_logged = false;
    bool suspended = false; // leading, but the lease lapsed here: reads only
    bool announced = false; // the records are loaded and the gate opened
    std::optional<std::string> known_leader;

    std::unique_lock lock{mutex_};
    while (!stopping_ && !ended_) {
        lock.unlock();
        const auto attempted_at = Steady::now();
        try {
            const auto state = lease_.attempt();
            metrics_.lease_attempt(true);
            if (unreachable_logged) spdlog::info("the leader's lease can be read again");
            unreachable_logged = false;
            if (state.leading) {
                renewed_at = attempted_at;
                if (!leading_) {
                    leading_ = true;
                    fence_.hold(state.epoch);
                    leadership_.start_leading(state.epoch);
                    if (state.epoch > 1) metrics_.took_over();
                    spdlog::info("took the leader's lease (epoch {}); loading the records", state.epoch);
                    promoter_ = std::thread{[this, epoch = state.epoch] {
                        promotion_ = actions_.promote && actions_.promote(epoch) ? 1 : -1;
                        wake_.notify_all();
                    }};
                } else if (suspended) {
                    suspended = false;
                    if (announced) {
                        leadership_.lead();
                        metrics_.set_leader(true);
                    }
                    spdlog::info("renewed the leader's lease (epoch {}): leading again", state.epoch);
                }
            } else if (leading_) {
                end_term("the leader's lease (epoch " + std::to_string(state.epoch) + ") is another daemon's now");
            } else {
                if (state.leader_url != known_leader) {
                    spdlog::info("following: the leader is {}", state.leader_url.value_or("not known (none leads)"));
                    known_leader = state.leader_url;
                }
                leadership_.follow(state.leader_url, state.epoch);
            }
        } catch (const std::exception& error) {
            metrics_.lease_attempt(false);
            if (!unreachable_logged) spdlog::error("cannot take or renew the leader's lease: {}", error.what());
            unreachable_logged = true;
            if (!leading_) leadership_.follow(std::nullopt, leadership_.epoch());
        }
        if (!leading_) fenced_ = false; // only a leader's writes can be fenced out
        if (leading_ && !ended_ && fenced_.load()) end_term("a write was refused: another daemon holds the lease");
        if (leading_ && !ended_ && promotion_.load() < 0) end_term("could not load the records to lead");
        if (leading_ && !ended_ && !announced && promotion_.load() > 0) {
            announced = true;
            if (!suspended) {
                leadership_.lead();
                metrics_.set_leader(true);
            }
        }
        if (leading_ && !ended_ && !suspended && Steady::now() - renewed_at >= hold_for) {
            // Another daemon may take the lease from now: stop answering as the leader, but keep
            // what is in memory, in case the lease is renewed before anyone else takes it.
            suspended = true;
            leadership_.suspend();
            metrics_.set_leader(false);
            spdlog::error("the leader's lease could not be renewed within {} ms: answering reads only until it is "
                          "renewed, or another daemon leads",
                          std::chrono::duration_cast<std::chrono::milliseconds>(hold_for).count());
        }
        lock.lock();
        // Woken early when the records are loaded, or a write was fenced out.
        wake_.wait_until(lock, attempted_at + period, [&] {
            return stopping_ || fenced_.load() || (leading_ && !announced && promotion_.load() != 0);
        });
    }
    lock.unlock();
    if (promoter_.joinable()) promoter_.join();
}

void LeaderElection::release() {
    stop();
    if (!leading_) return;
    leading_ = false;
    fence_.drop();
    lease_.release();
    metrics_.set_leader(false);
    spdlog::info("ended the leader's lease: another daemon may lead at once");
}

} // namespace macvmorx::app
