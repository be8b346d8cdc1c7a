// The dashboard at 10,000 Macs in headless Chromium, against the real daemon on loopback: the
// main thread's work of one refresh in which 1% of the nodes changed (goal: under 16 ms, a
// frame), as cards and as the overview, the bytes of an idle refresh (goal: under 10 KB), and
// the main thread's work (its CPU time) of a letter typed in the search, of a state filter chosen and of the
// overview drawn (goal: about 50 ms). Heartbeats go from this script to 127.0.0.1 only.
//
//   cd tests/browser && npm ci
//   node ../../bench/dashboard.mjs path/to/macvmorx [--nodes 10000] [--refreshes 10]
//
// CHROMIUM names the browser (default /usr/bin/chromium); MACVMORX_WEB_DIR=web serves the page
// from disk instead of the binary. Prints one JSON object; screenshots go to $MACVMORX_ARTIFACTS.
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const here = resolve(new URL(".", import.meta.url).pathname);
const browserTests = resolve(here, "..", "tests", "browser");
const require = createRequire(resolve(browserTests, "package.json"));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const binary = process.argv[2];
if (!binary || binary.startsWith("--")) {
  console.error("usage: node bench/dashboard.mjs path/to/macvmorx [--nodes 10000] [--refreshes 10]");
  process.exit(2);
}
process.env.MACVMORX_BIN = resolve(binary);
const nodes = arg("nodes", 10_000);
const refreshes = arg("refreshes", 10);

// The browser tests' helpers: the daemon, the fleet's heartbeats, the browser.
const load = (path) => import(pathToFileURL(resolve(browserTests, path)).href);
const { Daemon } = await load("lib/daemon.mjs");
const { heartbeatOf, nodeName } = await load("lib/fleet.mjs");
const { launchBrowser, openPage, screenshot } = await load("lib/browser.mjs");
require.resolve("playwright-core"); // fails early without npm ci in tests/browser

const daemon = await Daemon.start({ name: "bench-dashboard", offlineTimeout: "1h" });
const browser = await launchBrowser();
try {
  const reports = [];
  for (let i = 1; i <= nodes; i++) reports.push(heartbeatOf(i));
  let started = Date.now();
  await daemon.heartbeats(reports);
  const fed = (Date.now() - started) / 1000;

  const session = await openPage(browser, { viewport: { width: 1920, height: 1080 } });
  const { page } = session;
  // Manual refresh: the script says when.
  await page.addInitScript(() => localStorage.setItem("macvmorx.dashboard.refresh", "0"));
  started = Date.now();
  await page.goto(daemon.url);
  await page.waitForFunction((n) => document.querySelector("#count-nodes")?.textContent === String(n), nodes, { timeout: 120_000 });
  const firstLoadMs = Date.now() - started;
  await screenshot(page, `bench-dashboard-${nodes}`);

  const cdp = await page.context().newCDPSession(page);
  // Durations in the main thread's own CPU time (threadTicks), so that a busy machine (a
  // compiler on the other core) does not lengthen them; the DevTools commands this script sends
  // (its evaluate calls) are taken out.
  await cdp.send("Performance.enable", { timeDomain: "threadTicks" });
  const metrics = async () => Object.fromEntries((await cdp.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value]));
  const taskSeconds = async () => {
    const m = await metrics();
    return m.TaskDuration - m.DevToolsCommandDuration;
  };
  // What the operator does, done in the page (a click, a letter typed, a choice in a select):
  // Playwright's own page.click and page.fill run checks in the page first, which would count.
  const click = (selector) => page.evaluate((s) => document.querySelector(s).click(), selector);
  const input = (selector, value, type = "input") =>
    page.evaluate(
      ([s, v, t]) => {
        const element = document.querySelector(s);
        element.value = v;
        element.dispatchEvent(new Event(t, { bubbles: true }));
      },
      [selector, value, type],
    );
  // One refresh: the main thread's work (CDP's TaskDuration, every task of the renderer's main
  // thread) from the click to the end of the next frame, and the bytes it moved.
  const refresh = async () => {
    await page.evaluate(() => performance.clearResourceTimings());
    const start = await metrics();
    const before = await taskSeconds();
    // Clicked, and waited for in the page without polling (a poll every frame would count).
    await page.evaluate(
      () =>
        new Promise((done) => {
          const button = document.querySelector("#refresh-now");
          const observer = new MutationObserver(() => {
            if (button.hasAttribute("aria-busy")) return;
            observer.disconnect();
            requestAnimationFrame(() => setTimeout(done, 0));
          });
          observer.observe(button, { attributes: true, attributeFilter: ["aria-busy"] });
          button.click();
        }),
    );
    const ms = ((await taskSeconds()) - before) * 1000;
    const end = await metrics();
    const part = (name) => (end[name] - start[name]) * 1000;
    const bytes = await page.evaluate(() =>
      performance
        .getEntriesByType("resource")
        .filter((entry) => /\/(api\/|readyz)/.test(entry.name))
        .reduce((sum, entry) => sum + entry.transferSize, 0),
    );
    return { ms, bytes, scriptMs: part("ScriptDuration"), styleMs: part("RecalcStyleDuration"), layoutMs: part("LayoutDuration") };
  };
  await refresh(); // warm

  // The main thread's work of `act()` and the frame after it.
  const work = async (act) => {
    const before = await taskSeconds();
    await act();
    await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0))));
    return ((await taskSeconds()) - before) * 1000;
  };
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  // A letter typed in the search (and taken away again), then a state filter, as cards.
  const interactions = async (layout) => {
    const typed = [];
    const erased = [];
    for (const letter of ["7", "9", "3"]) {
      typed.push(await work(() => input("#filter-text", letter)));
      erased.push(await work(() => input("#filter-text", "")));
    }
    const filter = await work(() => input("#filter-state", "free", "change"));
    const unfilter = await work(() => input("#filter-state", "", "change"));
    return { layout, searchLetterMs: median(typed), searchClearedMs: median(erased), stateFilterMs: filter, stateFilterClearedMs: unfilter };
  };
  const typing = [await interactions("cards")];

  const idle = [];
  for (let r = 0; r < refreshes; r++) idle.push(await refresh());

  // 1% of the nodes change between refreshes: their CPU moves by 10 points (an operator sees it).
  const changed = [];
  const step = Math.max(1, Math.floor(nodes / 100));
  for (let r = 0; r < refreshes; r++) {
    const batch = [];
    for (let i = 1 + (r % step); i <= nodes; i += step) {
      const report = reports[i - 1];
      report.cpuUsagePercent = ((report.cpuUsagePercent + 10 + r) % 90) + 5;
      batch.push(report);
    }
    await daemon.heartbeats(batch);
    changed.push({ ...(await refresh()), nodes: batch.length });
  }
  await screenshot(page, `bench-dashboard-${nodes}-after`);

  // The overview: drawn once, then refreshed with 1% of the nodes changed.
  const overviewDrawnMs = await work(() => click("#layout-overview"));
  await page.locator("#overview canvas").first().waitFor();
  await screenshot(page, `bench-dashboard-${nodes}-overview`);
  const overviewChanged = [];
  for (let r = 0; r < refreshes; r++) {
    const batch = [];
    for (let i = 1 + ((r + 3) % step); i <= nodes; i += step) {
      const report = reports[i - 1];
      report.cpuUsagePercent = ((report.cpuUsagePercent + 10 + r) % 90) + 5;
      // A tenth of them turn degraded (or healthy again): their cells change colour.
      if (i % 10 === 0) report.status = report.status === "degraded" ? "healthy" : "degraded";
      batch.push(report);
    }
    await daemon.heartbeats(batch);
    overviewChanged.push(await refresh());
  }
  typing.push(await interactions("overview"));
  const groupedMs = await work(() => input("#overview-group", "chip", "change"));
  await screenshot(page, `bench-dashboard-${nodes}-overview-chip`);
  await page.selectOption("#overview-group", "");
  await page.click("#layout-table");
  typing.push(await interactions("table"));

  const summary = (runs, key) => {
    const values = runs.map((run) => run[key]).sort((a, b) => a - b);
    return { median: values[Math.floor(values.length / 2)], max: values.at(-1) };
  };
  console.log(
    JSON.stringify(
      {
        nodes,
        heartbeatsSeconds: fed,
        firstLoadMs,
        idleRefresh: { mainThreadMs: summary(idle, "ms"), bytes: summary(idle, "bytes") },
        onePercentChanged: {
          nodes: changed[0]?.nodes,
          mainThreadMs: summary(changed, "ms"),
          bytes: summary(changed, "bytes"),
          // Of the main thread's work: scripts (parsing the answers included), style, layout.
          scriptMs: summary(changed, "scriptMs"),
          styleMs: summary(changed, "styleMs"),
          layoutMs: summary(changed, "layoutMs"),
        },
        overview: {
          drawnMs: overviewDrawnMs,
          onePercentChanged: { mainThreadMs: summary(overviewChanged, "ms"), bytes: summary(overviewChanged, "bytes") },
          groupedByChipMs: groupedMs,
        },
        searchAndFilters: typing,
        firstNode: nodeName(1),
      },
      null,
      2,
    ),
  );
  await session.close();
} finally {
  await browser.close();
  await daemon.stop();
}
