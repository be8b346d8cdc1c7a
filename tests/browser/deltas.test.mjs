// The page reads the listings as what changed since its last read (?since=<revision>),
// revalidated with their ETags, so an idle refresh of a large fleet moves a few kilobytes; and it
// still reads a daemon that predates deltas, which answers the plain lists.
import assert from "node:assert/strict";
import { test } from "node:test";
import { heartbeatOf, populate } from "./lib/fleet.mjs";
import { card, text, useBrowser, waitForText, withDashboard } from "./lib/harness.mjs";

useBrowser();

const settled = (page) => page.waitForFunction(() => !document.querySelector("#refresh-now").hasAttribute("aria-busy"));

// Bytes over the wire (headers and body, as the Resource Timing API counts them) of one refresh.
async function refreshBytes(page) {
  await page.evaluate(() => performance.clearResourceTimings());
  await page.click("#refresh-now");
  await settled(page);
  return page.evaluate(() =>
    performance
      .getEntriesByType("resource")
      .filter((entry) => /\/(api\/|readyz)/.test(entry.name))
      .map((entry) => ({ path: new URL(entry.name).pathname + new URL(entry.name).search, bytes: entry.transferSize })),
  );
}

test("an idle refresh of 2,000 nodes moves under 10 KB; a changed node arrives alone", async (t) => {
  let deltas = false;
  await withDashboard(
    {
      daemon: { name: "deltas", offlineTimeout: "10m" },
      viewport: { width: 1600, height: 1000 },
      beforeOpen: async ({ daemon }) => {
        await populate(daemon, 2000, { perNode: 0.3 });
        deltas = typeof (await daemon.get("/api/nodes?since=")).revision === "string";
      },
    },
    async ({ daemon, page, requests }) => {
      await waitForText(page, "#count-nodes", "2000", 30_000);
      if (!deltas) {
        t.skip("this daemon answers no deltas (it predates them)");
        return;
      }
      await settled(page);
      const idle = await refreshBytes(page);
      const total = idle.reduce((sum, entry) => sum + entry.bytes, 0);
      t.diagnostic(`idle refresh: ${total} bytes: ${JSON.stringify(idle)}`);
      assert.ok(total < 10 * 1024, `an idle refresh moved ${total} bytes`);
      const asked = requests.filter((url) => url.pathname === "/api/nodes").map((url) => url.searchParams.get("since"));
      assert.equal(asked[0], "", "the first read asks for everything");
      assert.ok(asked.slice(1).every((since) => since), "later reads name the revision they have");

      // A node on screen (the cards far below have no elements).
      const changed = heartbeatOf(3, (await daemon.get("/api/nodes/mac-mini-003")).vms);
      changed.cpuUsagePercent = 91;
      await daemon.heartbeat(changed);
      const one = await refreshBytes(page);
      const nodes = one.find((entry) => entry.path.startsWith("/api/nodes"));
      assert.ok(nodes.bytes < 4 * 1024, `one changed node: ${nodes.bytes} bytes`);
      await waitForText(page, `${card("mac-mini-003")} [data-field="CPU-value"]`, "91%");
      assert.equal(await text(page, "#count-nodes"), "2000");
    },
  );
});

test("a daemon that answers the plain lists (before deltas) is read whole", async () => {
  await withDashboard(
    {
      daemon: { name: "no-deltas", offlineTimeout: "10m" },
      beforeOpen: async ({ daemon, page }) => {
        await daemon.heartbeats([heartbeatOf(1), heartbeatOf(2)]);
        // The answers of an older daemon: arrays, whatever the query.
        for (const path of ["/api/nodes", "/api/vms"]) {
          await page.route(
            (url) => url.pathname === path,
            async (route) => route.fulfill({ json: await daemon.get(path) }),
          );
        }
      },
    },
    async ({ daemon, page }) => {
      await page.locator(card("mac-mini-002")).waitFor();
      await daemon.heartbeat(heartbeatOf(3));
      await page.click("#refresh-now");
      await page.locator(card("mac-mini-003")).waitFor();
      assert.equal(await text(page, "#count-nodes"), "3");
    },
  );
});
