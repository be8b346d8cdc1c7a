#include "macvmorx/storage/leader_lease.hpp"

#include "postgres_connection.hpp"

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

namespace macvmorx::storage {

struct LeaderLease::Connection {
    std::unique_ptr<pqxx::connection> handle;
};

LeaderLease::LeaderLease(std::string url, std::string holder, std::string advertise_url, Duration duration)
    : url_{std::move(url)},
      holder_{std::move(holder)},
      advertise_url_{std::move(advertise_url)},
      duration_{duration},
      connection_{std::make_unique<Connection>()} {}

LeaderLease::~LeaderLease() = default;

LeaseState LeaderLease::attempt() {
    try {
        if (!connection_->handle) connection_->handle = connect_postgres(url_);
        pqxx::work work{*connection_->handle};
        const auto milliseconds = std::chrono::duration_cast<std::chrono::milliseconds>(duration_).count();
        // Taken when expired, renewed when ours; the epoch grows by one whenever the holder
        // changes, so that the old holder's fence no longer matches.
        const auto taken = work.exec_params(
            "INSERT INTO leader_lease AS lease (name, holder, epoch, url, expires_at) "
            "VALUES ('leader', $1, 1, $2, clock_timestamp() + $3 * interval '1 millisecond') "
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, url = excluded.url, "
            "expires_at = excluded.expires_at, "
            "epoch = CASE WHEN lease.holder = excluded.holder THEN lease.epoch ELSE lease.epoch + 1 END "
            "WHERE lease.holder = excluded.holder OR lease.expires_at < clock_timestamp() "
            "RETURNING epoch",
            holder_, advertise_url_, static_cast<std::int64_t>(milliseconds));
        LeaseState state;
        if (!taken.empty()) {
            state.leading = true;
            state.epoch = taken[0][0].as<std::uint64_t>();
            state.leader_url = advertise_url_;
        } else {
            const auto lease = work.exec("SELECT epoch, url, expires_at > clock_timestamp() FROM leader_lease "
                                         "WHERE name = 'leader'");
            if (!lease.empty()) {
                state.epoch = lease[0][0].as<std::uint64_t>();
                if (lease[0][2].as<bool>()) state.leader_url = lease[0][1].c_str();
            }
        }
        work.commit();
        return state;
    } catch (const pqxx::broken_connection& error) {
        connection_->handle.reset();
        throw StorageError(std::string{"the lease cannot be read: "} + error.what());
    } catch (const pqxx::failure& error) {
        connection_->handle.reset();
        throw StorageError(std::string{"the lease cannot be read: "} + error.what());
    }
}

void LeaderLease::release() {
    try {
        if (!connection_->handle) connection_->handle = connect_postgres(url_);
        pqxx::work work{*connection_->handle};
        work.exec_params("UPDATE leader_lease SET expires_at = clock_timestamp() - interval '1 second' "
                         "WHERE name = 'leader' AND holder = $1",
                         holder_);
        work.commit();
    } catch (const std::exception& error) {
        spdlog::warn("could not end the leader's lease at once ({}); it expires within {} ms", error.what(),
                     std::chrono::duration_cast<std::chrono::milliseconds>(duration_).count());
    }
}

} // namespace macvmorx::storage
