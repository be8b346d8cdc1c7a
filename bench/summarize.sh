#!/usr/bin/env bash
# Turns the RESULT and RSS lines of bench/run.sh into markdown tables: each row's null server
# and daemon side by side, the daemon's throughput as a share of the null server's, its
# latencies as multiples of the null server's, and the server CPU time per answer of both. A row
# measured more than once keeps each server's best throughput (and that run's latencies and CPU).
#   bench/summarize.sh build/bench/bench-results.txt
set -euo pipefail
awk '
function field(name,    i, kv) {
    for (i = 2; i <= NF; ++i) { split($i, kv, "="); if (kv[1] == name) return kv[2] }
    return ""
}
function ratio(a, b) { return (b > 0 && a != "" && a >= 0) ? sprintf("%.2f", a / b) : "" }
function cell(key, server) { return ((key, server) in rps) ? rps[key, server] : "" }
/^RESULT / {
    label = field("label"); split(label, parts, ":"); row = parts[1]; server = parts[2]
    if (row ~ /^populate/) next
    role = field("role")
    if (role == "cpu") {
        if (take_cpu[label]) cpu[row, server] = field("server_us_per_answer")
        next
    }
    key = row SUBSEP role
    if (!(key in seen)) { seen[key] = 1; order[++n] = key }
    if (!((key, server) in rps) || field("rps") + 0 > rps[key, server] + 0) {
        rps[key, server] = field("rps"); p50[key, server] = field("p50_us"); p99[key, server] = field("p99_us")
        p999[key, server] = field("p999_us"); bytes[key, server] = field("body_bytes")
        errors[key, server] = field("errors") + field("unavailable")
        if (role == "heartbeat" || role == "list") take_cpu[label] = 1
    } else if (role == "heartbeat" || role == "list") {
        take_cpu[label] = 0
    }
}
/^RSS / { rss[++m] = $0 }
END {
    print "| row | role | null /s | daemon /s | daemon/null | null p50 / p99 / p99.9 (us) | daemon p50 / p99 / p99.9 (us) | p50 ×null | p99 ×null | server CPU us/answer null / daemon | daemon body (B) | daemon errors |"
    print "|---|---|---|---|---|---|---|---|---|---|---|---|"
    for (i = 1; i <= n; ++i) {
        key = order[i]; split(key, kr, SUBSEP)
        split(key, kr, SUBSEP)
        cpus = ""
        if (kr[2] != "schedule" && ((kr[1], "null") in cpu || (kr[1], "daemon") in cpu))
            cpus = cpu[kr[1], "null"] " / " cpu[kr[1], "daemon"]
        printf "| %s | %s | %s | %s | %s | %s / %s / %s | %s / %s / %s | %s | %s | %s | %s | %s |\n", kr[1], kr[2],
            cell(key, "null"), cell(key, "daemon"), ratio(rps[key, "daemon"], rps[key, "null"]),
            p50[key, "null"], p99[key, "null"], p999[key, "null"],
            p50[key, "daemon"], p99[key, "daemon"], p999[key, "daemon"],
            ratio(p50[key, "daemon"], p50[key, "null"]), ratio(p99[key, "daemon"], p99[key, "null"]),
            cpus, bytes[key, "daemon"], errors[key, "daemon"]
        if ((key, "bare") in rps)
            printf "| %s | %s (bare Beast) | %s | | null/bare %s | %s / %s / %s | | | | %s | | |\n", kr[1], kr[2],
                rps[key, "bare"], ratio(rps[key, "null"], rps[key, "bare"]), p50[key, "bare"], p99[key, "bare"],
                p999[key, "bare"], cpu[kr[1], "bare"]
    }
    for (i = 1; i <= n; ++i) {
        key = order[i]; split(key, kr, SUBSEP)
        if ((key, "daemon-without-sweep") in rps)
            printf "| %s | %s (daemon without the periodic sweep) | | %s | | | %s / %s / %s | | | %s | | %s |\n", kr[1], kr[2],
                rps[key, "daemon-without-sweep"], p50[key, "daemon-without-sweep"], p99[key, "daemon-without-sweep"],
                p999[key, "daemon-without-sweep"], cpu[kr[1], "daemon-without-sweep"], errors[key, "daemon-without-sweep"]
    }
    print ""
    for (i = 1; i <= m; ++i) print "    " rss[i]
}' "$1"
