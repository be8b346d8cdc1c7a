#!/usr/bin/env bash
# Turns the RESULT and RSS lines of bench/run.sh into markdown tables: each row's null server
# and daemon side by side, with the daemon's throughput as a share of the null server's and its
# latencies as multiples of the null server's.
#   bench/summarize.sh build/bench/bench-results.txt
set -euo pipefail
awk '
function field(name,    i, kv) {
    for (i = 2; i <= NF; ++i) { split($i, kv, "="); if (kv[1] == name) return kv[2] }
    return ""
}
function ratio(a, b) { return (b > 0 && a != "") ? sprintf("%.2f", a / b) : "" }
/^RESULT / {
    split(field("label"), parts, ":"); row = parts[1]; server = parts[2]
    if (row ~ /^populate/) next
    key = row SUBSEP field("role")
    if (!(key in seen)) { seen[key] = 1; order[++n] = key }
    rps[key, server] = field("rps"); p50[key, server] = field("p50_us"); p99[key, server] = field("p99_us")
    p999[key, server] = field("p999_us"); bytes[key, server] = field("body_bytes")
    errors[key, server] = field("errors") + field("unavailable")
}
/^RSS / { rss[++m] = $0 }
END {
    print "| row | role | null/s | daemon/s | daemon/null | null p50 / p99 / p99.9 (us) | daemon p50 / p99 / p99.9 (us) | p50 ratio | p99 ratio | daemon body (B) | errors |"
    print "|---|---|---|---|---|---|---|---|---|---|---|"
    for (i = 1; i <= n; ++i) {
        key = order[i]; split(key, kr, SUBSEP)
        printf "| %s | %s | %s | %s | %s | %s / %s / %s | %s / %s / %s | %s | %s | %s | %s |\n", kr[1], kr[2],
            rps[key, "null"], rps[key, "daemon"], ratio(rps[key, "daemon"], rps[key, "null"]),
            p50[key, "null"], p99[key, "null"], p999[key, "null"],
            p50[key, "daemon"], p99[key, "daemon"], p999[key, "daemon"],
            ratio(p50[key, "daemon"], p50[key, "null"]), ratio(p99[key, "daemon"], p99[key, "null"]),
            bytes[key, "daemon"], errors[key, "daemon"]
        if ((key, "bare") in rps)
            printf "| %s | %s (bare Beast) | %s | | %s (null/bare) | %s / %s / %s | | | | | |\n", kr[1], kr[2],
                rps[key, "bare"], ratio(rps[key, "null"], rps[key, "bare"]), p50[key, "bare"], p99[key, "bare"], p999[key, "bare"]
    }
    print ""
    for (i = 1; i <= m; ++i) print "    " rss[i]
}' "$1"
