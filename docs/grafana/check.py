#!/usr/bin/env python3
"""Checks the macvmorx Grafana dashboard (and alerting rules) against a real /metrics scrape.

Usage:
    curl -s http://127.0.0.1:8080/metrics > scrape.txt
    python3 docs/grafana/check.py docs/grafana/macvmorx.json scrape.txt [--rules docs/grafana/alerts.yml]

It fails (exit status 1) when
  - the dashboard is not valid JSON,
  - an expression (a panel's query, a template variable's query, an alerting rule's expr) names a
    metric that the scrape does not have (a histogram's _bucket, _sum and _count series count as
    its family's),
  - a panel or a query uses another data source than the ${DS_PROMETHEUS} variable (the dashboard
    must import into any Grafana),
  - two panels overlap, a panel sticks out of Grafana's 24 columns, or two panels share an id.
Exit status 2: a file cannot be read. Python 3 standard library only.
"""

import argparse
import json
import re
import sys

DATASOURCE_UID = "${DS_PROMETHEUS}"

# PromQL words that look like metric names but are not.
KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
    "offset", "atan2", "inf", "nan", "start", "end",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# Series Prometheus itself adds to every scrape target (alerting rules use `up`).
SCRAPE_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling",
                 "scrape_series_added"}


# --------------------------------------------------------------------------------------- scrape

def read_scrape(text):
    """The metric names a scrape has: sample names, and every series name its TYPE lines imply."""
    names = set()
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split()
            if len(parts) >= 4 and parts[1] == "TYPE":
                name, kind = parts[2], parts[3]
                names.add(name)
                if kind in ("histogram", "summary"):
                    names.update(name + suffix for suffix in HISTOGRAM_SUFFIXES)
            continue
        match = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line)
        if match:
            names.add(match.group(0))
    return names


# ---------------------------------------------------------------------------------------- PromQL

def strip_grafana_variables(expr):
    expr = re.sub(r"\$\{[^}]*\}", "", expr)  # ${var}, ${var:regex}
    expr = re.sub(r"\[\[[^\]]*\]\]", "", expr)  # [[var]]
    return re.sub(r"\$[A-Za-z_][A-Za-z0-9_]*", "", expr)  # $var, $__rate_interval


def metric_names(expr):
    """The metric names an expression selects (a lexer, not a parser: enough for dashboards)."""
    names = set()
    # Names given as {__name__="..."}.
    names.update(re.findall(r"__name__\s*=\s*\"([^\"]+)\"", expr))
    expr = strip_grafana_variables(expr)
    # String literals, then label matchers and ranges, then grouping label lists.
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    expr = re.sub(r"\{[^{}]*\}", " ", expr)
    expr = re.sub(r"\[[^\[\]]*\]", " ", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", expr)
    for match in re.finditer(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)", expr):
        word = match.group(1)
        rest = expr[match.end():].lstrip()
        if rest.startswith("("):
            continue  # a function
        if word.lower() in KEYWORDS:
            continue
        names.add(word)
    return names


def split_top_level(text, separator=","):
    parts, depth, current, quote = [], 0, "", None
    for char in text:
        if quote:
            current += char
            if char == quote:
                quote = None
            continue
        if char in "\"'`":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    parts.append(current)
    return [part.strip() for part in parts]


def variable_expressions(query):
    """The PromQL inside a Grafana Prometheus variable query."""
    query = query.strip()
    match = re.fullmatch(r"(label_values|query_result|metrics|label_names)\s*\((.*)\)", query, re.S)
    if not match:
        return [query] if query else []
    function, inner = match.groups()
    if function == "label_values":
        arguments = split_top_level(inner)
        return arguments[:-1] if len(arguments) > 1 else []  # label_values(label): no metric
    if function == "query_result":
        return [inner]
    return []  # metrics(regex), label_names(): nothing to look up


# -------------------------------------------------------------------------------------- dashboard

def walk_panels(panels):
    for panel in panels or []:
        yield panel
        yield from walk_panels(panel.get("panels"))


def uid_of(datasource):
    if isinstance(datasource, dict):
        return datasource.get("uid")
    return datasource


def dashboard_expressions(dashboard, problems):
    """(where, expr) for every query of the dashboard; data source problems go to `problems`."""
    found = []
    for panel in walk_panels(dashboard.get("panels")):
        if panel.get("type") == "row":
            continue
        where = "panel %r" % panel.get("title", panel.get("id"))
        if uid_of(panel.get("datasource")) != DATASOURCE_UID:
            problems.append("%s: data source %r, not %s" % (where, panel.get("datasource"), DATASOURCE_UID))
        for target in panel.get("targets") or []:
            datasource = target.get("datasource", panel.get("datasource"))
            if uid_of(datasource) != DATASOURCE_UID:
                problems.append("%s, query %s: data source %r, not %s"
                                % (where, target.get("refId"), datasource, DATASOURCE_UID))
            if target.get("expr"):
                found.append(("%s, query %s" % (where, target.get("refId")), target["expr"]))
    for variable in (dashboard.get("templating") or {}).get("list") or []:
        if variable.get("type") != "query":
            continue
        where = "variable $%s" % variable.get("name")
        if uid_of(variable.get("datasource")) != DATASOURCE_UID:
            problems.append("%s: data source %r, not %s" % (where, variable.get("datasource"), DATASOURCE_UID))
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else (query or variable.get("definition", ""))
        for expr in variable_expressions(text):
            found.append((where, expr))
    return found


def layout_problems(dashboard):
    problems, cells, ids = [], {}, {}
    for panel in walk_panels(dashboard.get("panels")):
        title = panel.get("title", "")
        if panel.get("id") in ids:
            problems.append("panels %r and %r share the id %s" % (ids[panel["id"]], title, panel["id"]))
        ids[panel.get("id")] = title
        grid = panel.get("gridPos") or {}
        x, y, w, h = (grid.get(key, 0) for key in ("x", "y", "w", "h"))
        if w <= 0 or h <= 0 or x < 0 or x + w > 24:
            problems.append("panel %r: gridPos %r is outside the 24 columns or empty" % (title, grid))
            continue
        for row in range(y, y + h):
            for column in range(x, x + w):
                other = cells.get((row, column))
                if other is not None:
                    problems.append("panels %r and %r overlap at row %d, column %d" % (other, title, row, column))
                    break
                cells[(row, column)] = title
            else:
                continue
            break
    return problems


# ------------------------------------------------------------------------------------------ rules

def rule_expressions(text, path):
    """(where, expr) for every `expr:` of a Prometheus rule file (inline or a | / > block)."""
    found, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        match = re.match(r"^(\s*)(?:-\s+)?expr:\s*(.*)$", line)
        i += 1
        if not match or line.lstrip().startswith("#"):
            continue
        indent, value = len(match.group(1)), match.group(2).strip()
        where = "%s line %d" % (path, i)
        if value[:1] in ("|", ">"):
            block = []
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                block.append(lines[i].strip())
                i += 1
            value = " ".join(part for part in block if part)
        elif value[:1] in ("'", '"'):
            value = value[1:-1] if value[-1:] == value[:1] else value[1:]
        value = re.sub(r"\s+#.*$", "", value) if not value.startswith("#") else ""
        if value:
            found.append((where, value))
    return found


# ------------------------------------------------------------------------------------------- main

def main(argv=None):
    parser = argparse.ArgumentParser(description="Check a Grafana dashboard's metrics against a /metrics scrape.")
    parser.add_argument("dashboard", help="the dashboard JSON (docs/grafana/macvmorx.json)")
    parser.add_argument("scrape", help="a saved scrape of the daemon's /metrics")
    parser.add_argument("--rules", action="append", default=[], help="a Prometheus rule file to check too")
    args = parser.parse_args(argv)

    try:
        with open(args.scrape, encoding="utf-8") as file:
            known = read_scrape(file.read())
        with open(args.dashboard, encoding="utf-8") as file:
            dashboard_text = file.read()
        rule_texts = []
        for path in args.rules:
            with open(path, encoding="utf-8") as file:
                rule_texts.append((path, file.read()))
    except OSError as error:
        print("check.py: %s" % error, file=sys.stderr)
        return 2

    if not any(name.startswith("macvmorx_") for name in known):
        print("check.py: %s has no macvmorx_ metric: not a scrape of the daemon's /metrics" % args.scrape,
              file=sys.stderr)
        return 1
    try:
        dashboard = json.loads(dashboard_text)
    except ValueError as error:
        print("check.py: %s is not valid JSON: %s" % (args.dashboard, error), file=sys.stderr)
        return 1

    problems = []
    expressions = dashboard_expressions(dashboard, problems)
    problems.extend(layout_problems(dashboard))
    for path, text in rule_texts:
        found = rule_expressions(text, path)
        if not found:
            problems.append("%s: no expr found" % path)
        expressions.extend(found)

    used = set()
    for where, expr in expressions:
        names = metric_names(expr)
        if not names:
            problems.append("%s: no metric in %r" % (where, expr))
        for name in sorted(names):
            used.add(name)
            if name not in known and name not in SCRAPE_SERIES:
                problems.append("%s: unknown metric %s in %r" % (where, name, expr))

    for problem in problems:
        print("FAIL " + problem)
    families = sorted(name for name in known if name.startswith("macvmorx_")
                      and not any(name.endswith(s) and name[: -len(s)] in known for s in HISTOGRAM_SUFFIXES))
    unused = [name for name in families
              if name not in used and not any(name + s in used for s in HISTOGRAM_SUFFIXES)]
    if unused:
        print("note: not shown: %s" % ", ".join(unused))
    print("%d expressions, %d metric names, %d problems" % (len(expressions), len(used), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
