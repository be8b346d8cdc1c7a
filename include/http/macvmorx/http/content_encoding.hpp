#pragma once

// gzip for answers: what a client accepts (Accept-Encoding, RFC 9110 §12.5.3) and the
// compression itself (zlib's deflate with the gzip wrapper, RFC 1952).

#include <string>
#include <string_view>

namespace macvmorx::http {

// Whether an Accept-Encoding value admits gzip: "gzip" or "x-gzip" or "*" with a q-value
// above 0 ("gzip;q=0" refuses it, as does a "*;q=0" without gzip named).
bool accepts_gzip(std::string_view accept_encoding);

// zlib levels 1 (fastest) to 9 (smallest). Level 1 is what the API uses: JSON lists shrink
// nearly as much as at 6 for a third of the time (docs/benchmarks.md).
std::string gzip(std::string_view data, int level = 1);

// Decompresses a gzip stream; throws std::runtime_error on a corrupt one. For tests and the
// load generator, which read what the daemon sends.
std::string gunzip(std::string_view data);

} // namespace macvmorx::http
