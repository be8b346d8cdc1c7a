// The fleet's last hours (GET /api/fleet/history): small charts of the slots in use, the queue,
// VM waits and heartbeats, from the real daemon's first sample and from a full 6 hours; none
// (and nothing asked, or asked once) from a daemon without the history.
import assert from "node:assert/strict";
import { test } from "node:test";
import { axeViolations } from "./lib/axe.mjs";
import { screenshot } from "./lib/browser.mjs";
import { heartbeatOf, populate } from "./lib/fleet.mjs";
import { text, useBrowser, waitForText, withDashboard } from "./lib/harness.mjs";

useBrowser();

const CHARTS = ["slots", "queue", "wait", "heartbeats"];
const settled = (page) => page.waitForFunction(() => !document.querySelector("#refresh-now").hasAttribute("aria-busy"));

async function refresh(page) {
  await page.click("#refresh-now");
  await settled(page);
}

test("the charts show the daemon's first sample", async () => {
  await withDashboard(
    {
      daemon: { name: "history", offlineTimeout: "10m" },
      viewport: { width: 1440, height: 900 },
      beforeOpen: async ({ daemon }) => populate(daemon, 12),
    },
    async ({ daemon, page, requests }) => {
      await page.locator("#fleet-history").waitFor({ state: "visible", timeout: 15_000 });
      const history = await daemon.get("/api/fleet/history");
      assert.ok(history.samples.length >= 1, "the daemon samples at start");
      assert.equal(history.intervalSeconds, 30);
      assert.deepEqual(await page.locator("#history-charts > li").evaluateAll((items) => items.map((li) => li.dataset.chart)), CHARTS);
      for (const name of CHARTS) {
        const label = await page.getAttribute(`li[data-chart="${name}"] svg`, "aria-label");
        assert.ok(label && label.length > 10, `${name}: ${label}`);
        assert.equal(await page.getAttribute(`li[data-chart="${name}"] svg`, "role"), "img");
      }
      // The latest value in words, as of the last sample the page read.
      await refresh(page);
      const last = (await daemon.get("/api/fleet/history")).samples.at(-1);
      await waitForText(page, 'li[data-chart="slots"] [data-field="latest"]', `${last.slotsUsed} of ${last.slotsTotal} slots`);
      assert.equal(await text(page, 'li[data-chart="queue"] [data-field="latest"]'), `${last.queueLength} VMs waiting`);
      // The page has the samples: it asks for those taken after its last one.
      const asked = requests.filter((url) => url.pathname === "/api/fleet/history").map((url) => url.searchParams.get("after"));
      assert.equal(asked[0], null, "the first read asks for them all");
      assert.ok(asked.length >= 2 && asked.slice(1).every((after) => after && Number.isFinite(Date.parse(after))), JSON.stringify(asked));
      const path = await page.getAttribute('li[data-chart="slots"] path[fill="none"]:last-of-type', "d");
      assert.match(path, /^M/, "the slots in use are drawn");
      assert.ok(await page.locator("#history-json-link").isVisible());
      assert.deepEqual(await axeViolations(page), []);
      await screenshot(page, "history-first-sample", { clip: await page.locator("#fleet-history").boundingBox() });
    },
  );
});

// Six hours every 30 s, with the daemon down for 10 minutes and no VM started for a while.
function sixHours() {
  const end = Date.parse("2026-12-07T16:00:00Z");
  const samples = [];
  for (let i = 0; i < 720; i++) {
    if (i >= 300 && i < 320) continue;
    const used = Math.round(60 + 40 * Math.sin(i / 60));
    const quiet = i >= 500 && i < 540;
    samples.push({
      at: new Date(end - (719 - i) * 30_000).toISOString(),
      nodesOnline: 50,
      nodesOffline: 2,
      slotsTotal: 100,
      slotsUsed: used,
      queueLength: Math.max(0, used - 90),
      heartbeatsPerSecond: 5 + (i % 7) / 10,
      vmsStarted: quiet ? 0 : 3,
      waitP50Seconds: quiet ? null : 10 + (i % 5),
      waitP95Seconds: quiet ? null : 40 + (i % 11),
    });
  }
  return { intervalSeconds: 30, samples };
}

test("six hours of history: gaps stay gaps, and the charts say what they show", async () => {
  const history = sixHours();
  await withDashboard(
    {
      daemon: { name: "history-6h", offlineTimeout: "10m" },
      viewport: { width: 1920, height: 1080 },
      beforeOpen: async ({ daemon, page }) => {
        await daemon.heartbeats([heartbeatOf(1), heartbeatOf(2)]);
        await page.route((url) => url.pathname === "/api/fleet/history", (route) => route.fulfill({ json: history }));
      },
    },
    async ({ page }) => {
      await page.locator("#fleet-history").waitFor({ state: "visible", timeout: 15_000 });
      const last = history.samples.at(-1);
      assert.equal(await text(page, 'li[data-chart="slots"] [data-field="latest"]'), `${last.slotsUsed} of 100 slots`);
      assert.equal(await text(page, 'li[data-chart="slots"] [data-field="max"]'), "100");
      assert.equal(await text(page, 'li[data-chart="heartbeats"] [data-field="latest"]'), `${last.heartbeatsPerSecond} per second`);
      const slots = await page.getAttribute('li[data-chart="slots"] svg', "aria-label");
      assert.match(slots, /^Slots in use over the last 5h 59m: between 20 and 100 slots in use; now \d+ of 100 slots$/);
      // The 10 minutes without samples break the lines; so do the intervals without a VM started.
      const moves = (d) => (d.match(/M/g) ?? []).length;
      assert.equal(moves(await page.getAttribute('li[data-chart="slots"] path[fill="none"]:last-of-type', "d")), 2);
      assert.equal(moves(await page.getAttribute('li[data-chart="wait"] path[fill="none"]:last-of-type', "d")), 3);
      const ticks = await page.locator('li[data-chart="slots"] [data-field="from"], li[data-chart="slots"] [data-field="to"]').allTextContents();
      assert.equal(ticks.length, 2);
      for (const tick of ticks) assert.match(tick, /^\d\d:\d\d:\d\d$/);
      assert.deepEqual(await axeViolations(page), []);
      await screenshot(page, "history-6h", { clip: await page.locator("#fleet-history").boundingBox() });
    },
  );
});

test("a daemon without the history (404) shows no charts and is asked once", async () => {
  await withDashboard(
    {
      daemon: { name: "history-404" },
      allowErrors: /status of 404/,
      beforeOpen: async ({ daemon, page }) => {
        await daemon.heartbeats([heartbeatOf(1)]);
        await page.route((url) => url.pathname === "/api/fleet/history", (route) => route.fulfill({ status: 404, json: { error: "not found" } }));
      },
    },
    async ({ page, count, errors }) => {
      await waitForText(page, "#count-nodes", "1");
      await refresh(page);
      await refresh(page);
      assert.equal(count("/api/fleet/history"), 1);
      assert.ok(await page.locator("#fleet-history").isHidden());
      assert.ok(await page.locator("#history-json-link").isHidden());
      assert.ok(errors.length <= 1, "at most the one 404");
    },
  );
});

test("a daemon without deltas (which predates the history) is not asked for it", async () => {
  await withDashboard(
    {
      daemon: { name: "history-old" },
      beforeOpen: async ({ daemon, page }) => {
        await daemon.heartbeats([heartbeatOf(1), heartbeatOf(2)]);
        for (const path of ["/api/nodes", "/api/vms"]) {
          await page.route((url) => url.pathname === path, async (route) => route.fulfill({ json: await daemon.get(path) }));
        }
      },
    },
    async ({ page, count }) => {
      await waitForText(page, "#count-nodes", "2");
      await refresh(page);
      assert.equal(count("/api/fleet/history"), 0);
      assert.ok(await page.locator("#fleet-history").isHidden());
    },
  );
});
