#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace macvmorx::http {

// A client's text (a request target, a decoded path, a header) as the log may hold it: control
// characters, DEL, backslashes and bytes that are not UTF-8 become \xNN escapes, so that no
// request can forge a log line or send escape sequences to an operator's terminal; cut to
// `max_bytes` with a note of the rest.
std::string loggable(std::string_view client_text, std::size_t max_bytes = 512);

// How many client errors (4xx) are logged: `per_second` on average, `burst` at once; the rest
// are counted, and the count goes with the next line logged, so that a client sending bad
// requests in a loop cannot flood the log.
//
// Threading: any thread.
class ClientErrorThrottle {
public:
    ClientErrorThrottle(double per_second, double burst) : per_second_{per_second}, burst_{burst}, tokens_{burst} {}

    // The number of client errors left unlogged since the last one logged when this one may be
    // logged; nullopt when it may not.
    std::optional<std::uint64_t> admit();

private:
    std::mutex mutex_;
    double per_second_;
    double burst_;
    double tokens_;
    std::chrono::steady_clock::time_point last_{std::chrono::steady_clock::now()};
    std::uint64_t suppressed_ = 0;
};


} // namespace macvmorx::http
