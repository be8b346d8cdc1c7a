// What the page says must be true of the fleet: slots placed on a drained Mac, names in the order
// people count, a deleted VM's words, and the page holding still while data arrives.
import assert from "node:assert/strict";
import { test } from "node:test";
import { heartbeatOf, populate } from "./lib/fleet.mjs";
import { card, text, useBrowser, waitForText, withDashboard } from "./lib/harness.mjs";

useBrowser();

const mac = (nodeId) => ({ ...heartbeatOf(1), nodeId, vmCount: 0, vms: [] });

test("a VM placed on a Mac that was then drained is placed and starting, and no slot is in use", async () => {
  await withDashboard(
    {
      daemon: { name: "reserved", offlineTimeout: "10m" },
      beforeOpen: async ({ daemon }) => {
        await daemon.heartbeat(mac("mac-a"));
        assert.equal((await daemon.scheduleVm({ imageName: heartbeatOf(1).cachedImages[0], vmId: "job-1" })).status, 200);
        await daemon.post("/api/nodes/mac-a/drain", {});
        const fleet = await daemon.get("/api/fleet");
        assert.ok(fleet.slots.reserved > fleet.slots.used, JSON.stringify(fleet.slots));
      },
    },
    async ({ page }) => {
      await page.locator(card("mac-a")).waitFor();
      await waitForText(page, '[data-total="reserved"]', "1");
      assert.equal(await text(page, '[data-total="used"]'), "0", "never a negative count");
      const widths = await page.evaluate(() => ["#slots-used-bar", "#slots-reserved-bar"].map((s) => document.querySelector(s).style.width));
      assert.ok(widths.every((w) => Number.parseFloat(w) >= 0 && Number.parseFloat(w) <= 100), widths.join());
    },
  );
});

test("nodes sort by their numbers' value: sim-mac-9, sim-mac-110, sim-mac-1099", async () => {
  const names = ["sim-mac-1099", "sim-mac-110", "sim-mac-9", "sim-mac-10"];
  await withDashboard(
    { daemon: { name: "natural", offlineTimeout: "10m" }, beforeOpen: async ({ daemon }) => daemon.heartbeats(names.map(mac)) },
    async ({ page }) => {
      await page.locator(card("sim-mac-1099")).waitFor();
      const order = await page.locator("#node-grid > article").evaluateAll((cards) => cards.map((c) => c.dataset.nodeId));
      assert.deepEqual(order, ["sim-mac-9", "sim-mac-10", "sim-mac-110", "sim-mac-1099"]);
      await page.click("#layout-table");
      await page.locator('#node-rows tr[data-node-id="sim-mac-9"]').waitFor();
      const rows = await page.locator("#node-rows > tr[data-node-id]").evaluateAll((trs) => trs.map((tr) => tr.dataset.nodeId));
      assert.deepEqual(rows, ["sim-mac-9", "sim-mac-10", "sim-mac-110", "sim-mac-1099"]);
    },
  );
});

test("a deleted VM does not say it is running: an agent's message goes with its state", async () => {
  await withDashboard(
    {
      daemon: { name: "deleted-words", offlineTimeout: "10m" },
      path: "/?tab=vms",
      beforeOpen: async ({ daemon }) => {
        await daemon.heartbeat(mac("mac-a"));
        await daemon.scheduleVm({ imageName: heartbeatOf(1).cachedImages[0], vmId: "job-gone" });
        await daemon.scheduleVm({ imageName: heartbeatOf(1).cachedImages[0], vmId: "job-runs" });
        for (const vmId of ["job-gone", "job-runs"]) await daemon.post(`/api/vms/${vmId}/events`, { state: "running", message: "running at 10.0.0.5" });
        const deleted = await fetch(`${daemon.url}/api/vms/job-gone`, { method: "DELETE" });
        assert.equal(deleted.status, 200);
        await daemon.post("/api/vms/job-gone/events", { state: "deleted" });
        const record = await daemon.get("/api/vms/job-gone");
        assert.equal(record.state, "deleted");
        assert.equal(record.message, "running at 10.0.0.5", "the daemon keeps the agent's last message");
      },
    },
    async ({ page }) => {
      const gone = '#vm-rows tr[data-vm-id="job-gone"]';
      await page.locator(gone).waitFor();
      assert.equal(await text(page, `${gone} [data-state]`), "deleted");
      assert.equal(await text(page, `${gone} [data-field="reason"]`), "");
      assert.equal(await text(page, '#vm-rows tr[data-vm-id="job-runs"] [data-field="reason"]'), "running at 10.0.0.5");
    },
  );
});

// Lighthouse's layout shift (CLS): a good page stays under 0.1, a poor one is over 0.25.
test("nothing moves when the fleet arrives: the layout shift stays under 0.1", async () => {
  for (const layout of ["cards", "table"]) {
    await withDashboard(
      {
        daemon: { name: `shift-${layout}`, offlineTimeout: "10m" },
        viewport: { width: 1440, height: 900 },
        path: layout === "table" ? "/?layout=table" : "/",
        beforeOpen: async ({ daemon, page }) => {
          await populate(daemon, 60);
          await page.addInitScript(() => {
            window.layoutShift = 0;
            window.shifts = [];
            new PerformanceObserver((list) => {
              for (const entry of list.getEntries()) {
                if (entry.hadRecentInput) continue;
                window.layoutShift += entry.value;
                window.shifts.push({ value: entry.value, sources: entry.sources.map((s) => s.node?.id || s.node?.className || s.node?.nodeName) });
              }
            }).observe({ type: "layout-shift", buffered: true });
          });
        },
      },
      async ({ page }) => {
        await page.waitForFunction(() => document.querySelector("#updated").textContent.startsWith("Updated"));
        await page.waitForTimeout(1500); // a tick of the clocks and a frame or two
        const { shift, shifts } = await page.evaluate(() => ({ shift: window.layoutShift, shifts: window.shifts }));
        assert.ok(shift < 0.1, `${layout}: layout shift ${shift.toFixed(3)}: ${JSON.stringify(shifts)}`);
      },
    );
  }
});
