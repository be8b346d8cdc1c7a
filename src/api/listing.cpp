#include "macvmorx/api/listing.hpp"

#include "macvmorx/base/invalid_input.hpp"
#include "macvmorx/http/content_encoding.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <charconv>
#include <cstdio>
#include <functional>
#include <random>

namespace macvmorx::api {
namespace {

// Below this a gzip answer saves less than a packet.
constexpr std::size_t min_bytes_to_compress = 1024;

std::string random_epoch() {
    std::random_device device;
    char text[9];
    std::snprintf(text, sizeof text, "%08x", static_cast<unsigned>(device()));
    return text;
}

// "<epoch>.<revision>" as this tracker gave it; nullopt for anything else.
std::optional<std::uint64_t> parse_revision(std::string_view text, std::string_view epoch) {
    if (text.size() <= epoch.size() + 1 || text.substr(0, epoch.size()) != epoch || text[epoch.size()] != '.') {
        return std::nullopt;
    }
    const auto number = text.substr(epoch.size() + 1);
    std::uint64_t revision = 0;
    const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), revision);
    if (error != std::errc{} || end != number.data() + number.size()) return std::nullopt;
    return revision;
}

// If-None-Match: "*" or a list of entity tags, compared weakly (RFC 9110 §13.1.2).
bool none_match(std::string_view header, std::string_view etag) {
    const auto opaque = [](std::string_view tag) {
        while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
        while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
        if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
        return tag;
    };
    while (!header.empty()) {
        const auto comma = header.find(',');
        const auto tag = opaque(header.substr(0, comma));
        if (tag == "*" || tag == opaque(etag)) return true;
        header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    }
    return false;
}

} // namespace

ListingQuery parse_listing_query(const http::Request& request) {
    ListingQuery query;
    if (const auto since = request.query_param("since")) query.since = std::string(*since);
    if (const auto after = request.query_param("after")) query.after = std::string(*after);
    if (const auto limit = request.query_param("limit")) {
        std::size_t value = 0;
        const auto [end, error] = std::from_chars(limit->data(), limit->data() + limit->size(), value);
        if (error != std::errc{} || end != limit->data() + limit->size() || value == 0 || value > max_page_size) {
            throw InvalidValue("limit must be a whole number from 1 to " + std::to_string(max_page_size) + ", not '" +
                                   std::string(*limit) + "'",
                               "limit");
        }
        query.limit = value;
    }
    if (query.since && (query.limit != 0 || query.after)) {
        throw MalformedInput("since asks for what changed and limit/after for a page: ask for one or the other", "since");
    }
    return query;
}

ChangeTracker::ChangeTracker() : epoch_{random_epoch()} {}

ListingDelta ChangeTracker::observe(const std::vector<ItemDigest>& items, std::string_view since) {
    std::lock_guard lock{mutex_};
    const auto observation = ++observations_;
    const auto next = revision_ + 1;
    bool changed = false;
    std::vector<std::uint64_t> changed_at(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
        auto [it, inserted] = items_.try_emplace(items[i].id);
        auto& seen = it->second;
        if (inserted || seen.digest != items[i].digest) {
            seen.digest = items[i].digest;
            seen.changed_at = next;
            changed = true;
        }
        seen.observed = observation;
        changed_at[i] = seen.changed_at;
    }
    if (items_.size() > items.size() || changed) {
        for (auto it = items_.begin(); it != items_.end();) {
            if (it->second.observed == observation) {
                ++it;
                continue;
            }
            removed_.emplace_back(next, it->first);
            it = items_.erase(it);
            changed = true;
        }
    }
    if (changed) revision_ = next;
    // Removals are kept for as many revisions as it takes to hold a few thousand, or as many as
    // the listing has items; a reader further behind reads the whole list once.
    const auto keep = std::max<std::size_t>(4096, items.size());
    while (removed_.size() > keep) {
        removals_kept_from_ = removed_.front().first;
        removed_.pop_front();
    }

    ListingDelta delta;
    delta.revision = epoch_ + '.' + std::to_string(revision_);
    const auto from = parse_revision(since, epoch_);
    if (!from || *from > revision_ || *from < removals_kept_from_) return delta;
    delta.full = false;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (changed_at[i] > *from) delta.changed.push_back(i);
    }
    for (auto it = removed_.rbegin(); it != removed_.rend() && it->first > *from; ++it) delta.removed.push_back(it->second);
    return delta;
}

std::shared_ptr<ChangeTracker> ListingChanges::tracker(const std::string& key) {
    std::lock_guard lock{mutex_};
    auto& [tracker, used] = trackers_[key];
    used = ++uses_;
    if (!tracker) {
        tracker = std::make_shared<ChangeTracker>();
        if (trackers_.size() > max_trackers) {
            auto oldest = trackers_.begin();
            for (auto it = trackers_.begin(); it != trackers_.end(); ++it) {
                if (it->second.second < oldest->second.second) oldest = it;
            }
            trackers_.erase(oldest);
        }
    }
    return tracker;
}

void link_next_page(const http::Request& request, http::Response& response, std::string_view cursor) {
    auto parsed = boost::urls::parse_origin_form(request.target);
    if (!parsed) return;
    boost::urls::url next{*parsed};
    next.params().set("after", cursor);
    response.set_header("Link", "<" + std::string(next.buffer()) + ">; rel=\"next\"");
}

void finish_listing(const http::Request& request, http::Response& response) {
    if (response.status != 200) return;
    char etag[32];
    std::snprintf(etag, sizeof etag, "W/\"%016zx\"", std::hash<std::string_view>{}(response.body));
    response.set_header("ETag", etag);
    // Stored, but asked again each time: the ETag makes asking again cheap.
    response.set_header("Cache-Control", "no-cache");
    response.set_header("Vary", "Accept-Encoding");
    if (const auto match = request.header("If-None-Match"); match && none_match(*match, etag)) {
        response.status = 304;
        response.body.clear();
        response.content_type.clear();
        return;
    }
    const auto accept = request.header("Accept-Encoding");
    if (accept && response.body.size() >= min_bytes_to_compress && http::accepts_gzip(*accept)) {
        response.body = http::gzip(response.body);
        response.set_header("Content-Encoding", "gzip");
    }
}

} // namespace macvmorx::api
