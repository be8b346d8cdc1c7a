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

# The scaling table (issue 24, goal 6): per fleet size, each of the daemon's figures beside its
# ceiling from the same run. Heartbeats and placements: the null server (macvmorx's HTTP stack
# with null handlers) under the same load. Listing: the null server moving as many bytes; gzip
# and delta come from the in-process micro-benchmark (BM_NodeListingRefresh, 1% of the nodes
# changed), where the ceiling is the whole list. Memory: bytes per node over the empty daemon.
# Sweep: BM_SweepNothingDue, the pause every --monitor-interval when nothing is due.
awk '
function field(name,    i, kv) {
    for (i = 2; i <= NF; ++i) { split($i, kv, "="); if (kv[1] == name) return kv[2] }
    return ""
}
# Google Benchmark counters print with SI suffixes (7.26M).
function si(text,    unit) {
    unit = substr(text, length(text))
    if (unit == "k") return substr(text, 1, length(text) - 1) * 1e3
    if (unit == "M") return substr(text, 1, length(text) - 1) * 1e6
    if (unit == "G") return substr(text, 1, length(text) - 1) * 1e9
    return text + 0
}
function counter(name,    i, kv) {
    for (i = 1; i <= NF; ++i) { if (index($i, name "=") == 1) { split($i, kv, "="); return si(kv[2]) } }
    return ""
}
function kb(bytes) { return bytes == "" ? "" : bytes >= 1e6 ? sprintf("%.2f MB", bytes / 1e6) : sprintf("%.1f KB", bytes / 1e3) }
function ratio(a, b) { return (a != "" && b != "" && b > 0) ? sprintf("%.2f", a / b) : "?" }
function best(key, value) { if (!(key in top) || value + 0 > top[key] + 0) top[key] = value }
/^RESULT / {
    label = field("label"); split(label, parts, ":"); row = parts[1]; server = parts[2]
    role = field("role")
    if (match(row, /[0-9]+$/)) nodes = substr(row, RSTART) + 0; else next
    sizes[nodes] = 1
    if (row ~ /^heartbeats-saturation-/ && role == "heartbeat") best("hb" SUBSEP nodes SUBSEP server, field("rps"))
    if (row ~ /^placement-under-heartbeats-/ && role == "schedule") best("place" SUBSEP nodes SUBSEP server, field("rps"))
    if (row ~ /^node-listing-/ && role == "list") {
        list_ms[nodes, server] = field("p50_us") / 1000; list_bytes[nodes, server] = field("body_bytes")
    }
}
/^RSS / {
    label = field("label"); split(label, parts, ":")
    if (match(parts[1], /[0-9]+$/)) nodes = substr(parts[1], RSTART) + 0; else next
    kind = parts[1] ~ /^idle/ ? "idle" : "busy"
    rss[nodes, kind, parts[2]] = field("bytes_per_node")
}
/^BM_NodeListingRefresh\/[0-9]+\/[0-9]/ {
    split($1, name, "/"); nodes = name[2] + 0; mode = name[3] + 0
    refresh_ms[nodes, mode] = $2 + 0; refresh_bytes[nodes, mode] = counter("wire_bytes")
    # Google Benchmark prints the unit after the time; the listing runs are in ms.
    if ($3 != "ms") refresh_ms[nodes, mode] = ""
}
/^BM_SweepNothingDue\/[0-9]+/ { split($1, name, "/"); sweep[name[2] + 0] = $2 " " $3 }
END {
    print ""
    print "Scaling (daemon beside its ceiling, same run)"
    print ""
    print "| nodes | heartbeats/s: daemon · null · **ratio** | placements/s under 10,000 heartbeats/s: daemon · null · **ratio** | listing p50: daemon · null moving the bytes | listing in process: whole · gzip · delta+gzip (1% changed) | memory per node: 0-2 VMs · idle | sweep, nothing due |"
    print "|---|---|---|---|---|---|---|"
    n = 0
    for (s in sizes) order[++n] = s + 0
    for (i = 1; i <= n; ++i) for (j = i + 1; j <= n; ++j) if (order[j] < order[i]) { t = order[i]; order[i] = order[j]; order[j] = t }
    for (i = 1; i <= n; ++i) {
        s = order[i]
        hd = top["hb" SUBSEP s SUBSEP "daemon"]; hn = top["hb" SUBSEP s SUBSEP "null"]
        pd = top["place" SUBSEP s SUBSEP "daemon"]; pn = top["place" SUBSEP s SUBSEP "null"]
        printf "| %d | %.0f · %.0f · **%s** | %.0f · %.0f · **%s** | %.1f ms · %.1f ms (%s) | %s · %s · %s | %s B · %s B | %s |\n", s,
            hd, hn, ratio(hd, hn), pd, pn, ratio(pd, pn),
            list_ms[s, "daemon"], list_ms[s, "null"], kb(list_bytes[s, "daemon"]),
            (refresh_ms[s, 0] == "" ? "" : refresh_ms[s, 0] " ms, " kb(refresh_bytes[s, 0])),
            (refresh_ms[s, 1] == "" ? "" : refresh_ms[s, 1] " ms, " kb(refresh_bytes[s, 1])),
            (refresh_ms[s, 3] == "" ? "" : refresh_ms[s, 3] " ms, " kb(refresh_bytes[s, 3])),
            rss[s, "busy", "daemon"], rss[s, "idle", "daemon"], sweep[s]
    }
}' "$1"
