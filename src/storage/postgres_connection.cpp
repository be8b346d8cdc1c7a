#include "postgres_connection.hpp"

#include "macvmorx/storage/durable_store.hpp"

#include <libpq-fe.h>
#include <pqxx/except>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

namespace macvmorx::storage {

std::string redact_database_url(const std::string& url) {
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
    if (options == nullptr) {
        std::string reason = error != nullptr ? error : "out of memory";
        PQfreemem(error);
        while (!reason.empty() && reason.back() == '\n') reason.pop_back();
        throw StorageError("the database URL is not one libpq reads: " + reason);
    }
    std::string user, host, port, database;
    for (auto* option = options; option->keyword != nullptr; ++option) {
        if (option->val == nullptr) continue;
        const std::string_view keyword{option->keyword};
        if (keyword == "user") user = option->val;
        if (keyword == "host") host = option->val;
        if (keyword == "port") port = option->val;
        if (keyword == "dbname") database = option->val;
    }
    PQconninfoFree(options);
    std::string shown = "postgresql://";
    if (!user.empty()) shown += user + "@";
    shown += host;
    if (!port.empty()) shown += ":" + port;
    if (!database.empty()) shown += "/" + database;
    return shown;
}

std::unique_ptr<pqxx::connection> connect_postgres(const std::string& url) {
    std::string target = url;
    if (target.find("connect_timeout") == std::string::npos) {
        // A URL takes options as a query; key=value strings take them as more pairs.
        const bool is_uri = target.starts_with("postgresql://") || target.starts_with("postgres://");
        target += is_uri ? (target.find('?') == std::string::npos ? "?connect_timeout=3" : "&connect_timeout=3")
                         : " connect_timeout=3";
    }
    return std::make_unique<pqxx::connection>(target);
}

std::unique_ptr<pqxx::connection> connect_postgres_at_start(const std::string& url, Duration wait) {
    const std::string shown = redact_database_url(url);
    const auto deadline = std::chrono::steady_clock::now() + wait;
    auto pause = std::chrono::milliseconds{250};
    for (int attempt = 1;; ++attempt) {
        try {
            return connect_postgres(url);
        } catch (const pqxx::broken_connection& error) {
            std::string reason = error.what();
            while (!reason.empty() && reason.back() == '\n') reason.pop_back();
            if (std::chrono::steady_clock::now() + pause >= deadline) {
                throw DatabaseUnreachable("cannot reach PostgreSQL at " + shown + " after " + std::to_string(attempt) +
                                          " attempts: " + reason);
            }
            spdlog::warn("cannot reach PostgreSQL at {} yet ({}); trying again in {} ms", shown, reason, pause.count());
            std::this_thread::sleep_for(pause);
            pause = std::min(pause * 2, std::chrono::milliseconds{2000});
        }
    }
}

} // namespace macvmorx::storage
