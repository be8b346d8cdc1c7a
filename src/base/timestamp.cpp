#include "macvmorx/base/timestamp.hpp"

#include <charconv>
#include <cstdint>

namespace macvmorx {
namespace {

// Howard Hinnant's days <-> civil date algorithms: exact, branch-light, no time zone database.
struct CivilDate {
    std::int64_t year;
    unsigned month;
    unsigned day;
};

CivilDate civil_from_days(std::int64_t days) {
    days += 719468;
    const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const auto doe = static_cast<unsigned>(days - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned day = doy - (153 * mp + 2) / 5 + 1;
    const unsigned month = mp < 10 ? mp + 3 : mp - 9;
    return {static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2), month, day};
}

std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
    year -= month <= 2;
    const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
    const auto yoe = static_cast<unsigned>(year - era * 400);
    const unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// Writes `value` as exactly `width` digits at `at`.
void put_digits(char* at, std::int64_t value, int width) {
    for (int i = width - 1; i >= 0; --i) {
        at[i] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
}

bool read_number(std::string_view text, std::size_t at, std::size_t width, int& value) {
    if (at + width > text.size()) return false;
    const auto [end, ec] = std::from_chars(text.data() + at, text.data() + at + width, value);
    return ec == std::errc{} && end == text.data() + at + width;
}

} // namespace

void append_rfc3339(std::string& out, TimePoint time) {
    const auto millis = to_unix_millis(time);
    std::int64_t days = millis / 86'400'000;
    std::int64_t in_day = millis % 86'400'000;
    if (in_day < 0) {
        in_day += 86'400'000;
        --days;
    }
    const auto date = civil_from_days(days);
    // Built in place and appended once: listings write two of these per node.
    char text[] = "0000-00-00T00:00:00.000Z";
    put_digits(text, date.year, 4);
    put_digits(text + 5, date.month, 2);
    put_digits(text + 8, date.day, 2);
    put_digits(text + 11, in_day / 3'600'000, 2);
    put_digits(text + 14, in_day / 60'000 % 60, 2);
    put_digits(text + 17, in_day / 1000 % 60, 2);
    put_digits(text + 20, in_day % 1000, 3);
    out.append(text, sizeof text - 1);
}

std::string format_rfc3339(TimePoint time) {
    std::string out;
    out.reserve(24);
    append_rfc3339(out, time);
    return out;
}

std::optional<TimePoint> parse_rfc3339(std::string_view text) {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (text.size() < 20 || !read_number(text, 0, 4, year) || text[4] != '-' ||
        !read_number(text, 5, 2, month) || text[7] != '-' || !read_number(text, 8, 2, day) ||
        (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !read_number(text, 11, 2, hour) ||
        text[13] != ':' || !read_number(text, 14, 2, minute) || text[16] != ':' ||
        !read_number(text, 17, 2, second)) {
        return std::nullopt;
    }
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
        return std::nullopt;
    }
    std::size_t at = 19;
    std::int64_t nanos = 0;
    if (at < text.size() && text[at] == '.') {
        ++at;
        std::int64_t scale = 100'000'000;
        const std::size_t start = at;
        while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
            nanos += (text[at] - '0') * scale;
            scale /= 10;
            ++at;
        }
        if (at == start) return std::nullopt;
    }
    std::int64_t offset_seconds = 0;
    if (at < text.size() && (text[at] == 'Z' || text[at] == 'z')) {
        ++at;
    } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
        int offset_hours = 0, offset_minutes = 0;
        if (!read_number(text, at + 1, 2, offset_hours) || at + 3 >= text.size() || text[at + 3] != ':' ||
            !read_number(text, at + 4, 2, offset_minutes)) {
            return std::nullopt;
        }
        offset_seconds = (offset_hours * 3600 + offset_minutes * 60) * (text[at] == '-' ? -1 : 1);
        at += 6;
    } else {
        return std::nullopt;
    }
    if (at != text.size()) return std::nullopt;

    const std::int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    const std::int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
    return TimePoint{std::chrono::duration_cast<TimePoint::duration>(std::chrono::seconds{seconds} +
                                                                     std::chrono::nanoseconds{nanos})};
}

std::int64_t to_unix_millis(TimePoint time) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

TimePoint from_unix_millis(std::int64_t millis) {
    return TimePoint{std::chrono::duration_cast<TimePoint::duration>(std::chrono::milliseconds{millis})};
}

} // namespace macvmorx
