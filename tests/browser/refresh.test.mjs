// Polling: the interval selector, manual refresh, and a lost connection.
import assert from "node:assert/strict";
import { test } from "node:test";
import { heartbeatOf, keepAlive } from "./lib/fleet.mjs";
import { card, text, useBrowser, waitForText, withDashboard } from "./lib/harness.mjs";

useBrowser();

// The page's timers run on Playwright's fake clock: the test moves time forward and counts the
// requests the page made meanwhile, so no test waits 30 real seconds.
test("the refresh selector sets the polling interval and manual stops it", async () => {
  await withDashboard(
    {
      daemon: { name: "interval", offlineTimeout: "10m" },
      beforeOpen: async ({ daemon, page }) => {
        await daemon.heartbeat(heartbeatOf(1));
        await page.clock.install();
      },
    },
    async ({ page, count }) => {
      await page.locator(card("mac-mini-001")).waitFor();
      assert.equal(await page.inputValue("#refresh-interval"), "5", "every 5 s by default");
      await page.clock.pauseAt((await page.evaluate(() => Date.now())) + 1000);

      // A refresh marks the button busy from its start (in the timer's callback) to its end.
      const settled = () => page.waitForFunction(() => !document.querySelector("#refresh-now").hasAttribute("aria-busy"));
      // Advances the page's clock by `ms`, then waits for the refreshes that became due (each
      // reads /api/nodes once) to complete; returns how many started.
      const advance = async (ms) => {
        const before = count("/api/nodes");
        await page.clock.runFor(ms);
        await settled();
        return count("/api/nodes") - before;
      };
      await settled();
      // Line up with the 5 s cycle: right after a refresh.
      await page.click("#refresh-now");
      await settled();

      assert.equal(await advance(4_800), 0, "nothing before 5 s");
      assert.equal(await advance(400), 1, "one refresh at 5 s");
      assert.equal(await advance(5_000), 1, "and one every 5 s");
      for (const path of ["/api/fleet", "/api/vms"]) assert.equal(count(path), count("/api/nodes"), path);
      // The queue, the images and the daemon's role are read at the first refresh; the queue and
      // the images again only while the VMs view shows them, the role once a minute.
      for (const path of ["/api/queue", "/api/images", "/readyz"]) assert.equal(count(path), 1, path);
      const nodesBefore = count("/api/nodes");
      await page.click("#tab-vms");
      await settled();
      assert.equal(count("/api/nodes"), nodesBefore + 1, "opening the VMs view reads the queue at once");
      assert.equal(count("/api/queue"), 2);
      assert.equal(await advance(5_000), 1);
      assert.equal(count("/api/queue"), 3, "and with every refresh while it shows");
      assert.equal(count("/api/images"), 3);
      await page.click("#tab-nodes");

      await page.selectOption("#refresh-interval", "30");
      assert.equal(await advance(29_000), 0, "30 s: nothing for 29 s");
      assert.equal(await advance(1_500), 1, "30 s: one refresh");
      assert.equal(await advance(29_000), 0);
      assert.equal(await advance(1_500), 1);

      await page.selectOption("#refresh-interval", "60");
      assert.equal(await advance(59_000), 0, "60 s: nothing for 59 s");
      assert.equal(await advance(1_500), 1, "60 s: one refresh");

      await page.selectOption("#refresh-interval", "0");
      const updated = await text(page, "#updated");
      assert.match(updated, /^Updated \d\d:\d\d:\d\d$/);
      assert.equal(await advance(10 * 60_000), 0, "manual: no request in 10 minutes");
      assert.equal(await text(page, "#updated"), updated);
      assert.equal(await page.getAttribute("body", "data-connection"), "manual");

      const before = count("/api/nodes");
      await page.click("#refresh-now");
      await settled();
      assert.equal(count("/api/nodes") - before, 1, "Refresh now: one refresh");
      assert.equal(await advance(5 * 60_000), 0, "and still nothing by itself");

      // The choice survives a reload.
      await page.reload();
      await page.locator(card("mac-mini-001")).waitFor();
      assert.equal(await page.inputValue("#refresh-interval"), "0");
      await settled();
      assert.equal(await advance(2 * 60_000), 0, "manual after a reload too");
    },
  );
});

test("a lost connection shows a banner, keeps the data and recovers by itself", async () => {
  let stop;
  await withDashboard(
    {
      daemon: { name: "lost" },
      // The aborted requests are logged by the browser; nothing else may be.
      allowErrors: /Failed to load resource: net::ERR_(CONNECTION_REFUSED|FAILED)/,
      beforeOpen: async ({ daemon }) => {
        const reports = new Map([[heartbeatOf(1).nodeId, heartbeatOf(1)], [heartbeatOf(2).nodeId, heartbeatOf(2)]]);
        await daemon.heartbeats([...reports.values()]);
        stop = keepAlive(daemon, reports, 500);
      },
    },
    async ({ page }) => {
      try {
        await page.locator(card("mac-mini-002")).waitFor();
        assert.ok(await page.locator("#connection-banner").isHidden());

        await page.route("**/api/**", (route) => route.abort("connectionrefused"));
        await page.click("#refresh-now");
        await page.locator("#connection-banner").waitFor({ state: "visible" });
        assert.match(await text(page, "#connection-message"), /^Connection lost: the daemon cannot be reached\. Showing the data of \d\d:\d\d:\d\d\. Retrying by itself\.$/);
        assert.equal(await page.getAttribute("body", "data-connection"), "lost");
        assert.equal(await page.locator("#node-grid > article").count(), 2, "the last data stays");
        assert.equal(await text(page, '[data-total="online"]'), "2");

        // It keeps trying (at most 5 s apart) and recovers once the daemon answers again.
        await page.unroute("**/api/**");
        await page.locator("#connection-banner").waitFor({ state: "hidden", timeout: 15_000 });
        assert.equal(await page.getAttribute("body", "data-connection"), "live");
        await waitForText(page, '[data-total="online"]', "2");
      } finally {
        await stop();
      }
    },
  );
});
