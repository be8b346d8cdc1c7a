#pragma once

// What the listings (GET /api/nodes, /api/vms, /api/jobs) share so that they scale with the
// fleet: deltas (?since=), pages (?limit=&after=), and answers that are conditional (ETag,
// If-None-Match) and compressed (gzip). README's API section says how clients use them.

#include "macvmorx/http/message.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace macvmorx {
class JsonWriter;
}

namespace macvmorx::api {

inline constexpr std::size_t max_page_size = 10'000;

// ?since=<revision>, or ?limit=<n>&after=<cursor>; the two do not combine.
struct ListingQuery {
    std::optional<std::string> since;
    std::size_t limit = 0; // 0: the whole listing
    std::optional<std::string> after;
};

// Throws InvalidValue for a limit out of 1..max_page_size, MalformedInput for since with a page.
ListingQuery parse_listing_query(const http::Request& request);

// One item as change tracking sees it: its id and a digest of what a reader sees of it.
struct ItemDigest {
    std::string id;
    std::uint64_t digest = 0;
};

// What a `since` request gets: the revision to ask with next, and either every item (`full`:
// the revision was not one this daemon gave, or is older than the removals it keeps) or the
// indexes of the items that changed and the ids removed since.
struct ListingDelta {
    std::string revision;
    bool full = true;
    std::vector<std::size_t> changed;
    std::vector<std::string> removed;
};

// Remembers one listing's items by digest, so that a reader can ask what changed since a
// revision it was given. The revision advances when an observation finds a change; an item's
// change is dated by the revision that first saw it. Observations come from requests, so a
// listing nobody asks for deltas of costs nothing.
class ChangeTracker {
public:
    ChangeTracker();

    ListingDelta observe(const std::vector<ItemDigest>& items, std::string_view since);

private:
    struct Seen {
        std::uint64_t digest = 0;
        std::uint64_t changed_at = 0;
        std::uint64_t observed = 0;
    };

    std::mutex mutex_;
    std::string epoch_; // differs per daemon start, so that an old revision is not mistaken for a new one
    std::uint64_t revision_ = 0;
    std::uint64_t observations_ = 0;
    std::unordered_map<std::string, Seen> items_;
    std::deque<std::pair<std::uint64_t, std::string>> removed_; // (revision, id), oldest first
    std::uint64_t removals_kept_from_ = 0;                     // older revisions must read in full
};

// The trackers of every listing and filter ("vms?state=running"); the least recently used is
// dropped beyond a few per daemon, and its readers get the full list once.
class ListingChanges {
public:
    std::shared_ptr<ChangeTracker> tracker(const std::string& key);

private:
    static constexpr std::size_t max_trackers = 32;
    std::mutex mutex_;
    std::uint64_t uses_ = 0;
    std::map<std::string, std::pair<std::shared_ptr<ChangeTracker>, std::uint64_t>> trackers_;
};

// Writes {"revision":..., "full":..., "<array_name>":[...], "removed":[...]}, calling
// write_item(json, i) for each item the reader needs.
template <class WriteItem>
void write_delta(JsonWriter& json, const ListingDelta& delta, std::string_view array_name, std::size_t count,
                 WriteItem&& write_item);

// Sets `Link: <...after=cursor>; rel="next"` for the page that follows.
void link_next_page(const http::Request& request, http::Response& response, std::string_view cursor);

// Writes the page of `count` sorted items a query asks for, from `first` (the first item after
// its cursor): at most query.limit of them, and the Link to the next page, named by
// cursor_of(the index of the last item given).
template <class WriteItem, class CursorOf>
void write_page(JsonWriter& json, const http::Request& request, http::Response& response, const ListingQuery& query,
                std::size_t count, std::size_t first, std::size_t bytes_per_item, WriteItem&& write_item,
                CursorOf&& cursor_of);

// ETag (of the body; weak, so it holds for gzip too) and `304 Not Modified` on a matching
// If-None-Match; then gzip when the client accepts it and the body is worth it.
void finish_listing(const http::Request& request, http::Response& response);

} // namespace macvmorx::api

#include "macvmorx/json/json_writer.hpp"

#include <algorithm>

namespace macvmorx::api {

template <class WriteItem>
void write_delta(JsonWriter& json, const ListingDelta& delta, std::string_view array_name, std::size_t count,
                 WriteItem&& write_item) {
    json.begin_object().field("revision", delta.revision).field("full", delta.full).key(array_name).begin_array();
    if (delta.full) {
        for (std::size_t i = 0; i < count; ++i) write_item(json, i);
    } else {
        for (const auto i : delta.changed) write_item(json, i);
    }
    json.end_array().key("removed").begin_array();
    for (const auto& id : delta.removed) json.value(id);
    json.end_array().end_object();
}

template <class WriteItem, class CursorOf>
void write_page(JsonWriter& json, const http::Request& request, http::Response& response, const ListingQuery& query,
                std::size_t count, std::size_t first, std::size_t bytes_per_item, WriteItem&& write_item,
                CursorOf&& cursor_of) {
    const auto last = query.limit == 0 ? count : std::min(count, first + query.limit);
    // Reserving avoids regrowing a multi-megabyte buffer.
    response.body.reserve(64 + (last - first) * bytes_per_item);
    json.begin_array();
    for (auto i = first; i < last; ++i) write_item(json, i);
    json.end_array();
    if (last < count && last > first) link_next_page(request, response, cursor_of(last - 1));
}

} // namespace macvmorx::api
