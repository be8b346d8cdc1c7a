// The node cards and the fleet totals against a daemon fed by heartbeats.
import assert from "node:assert/strict";
import { test } from "node:test";
import { screenshot } from "./lib/browser.mjs";
import { heartbeatOf, keepAlive, populate } from "./lib/fleet.mjs";
import { card, text, useBrowser, waitForText, withDashboard } from "./lib/harness.mjs";

useBrowser();

const mac1 = {
  nodeId: "mac-mini-001",
  vmCount: 1,
  vms: [
    {
      vmId: "vm-001-job-abc",
      imageName: "macos-sonoma-runner",
      runtimeSeconds: 3600,
      vmHostname: "runner-abc",
      vmIpAddress: "10.0.0.101",
    },
  ],
  cpuUsagePercent: 45.2,
  memoryUsageGB: 8.5,
  totalMemoryGB: 16.0,
  diskUsageGB: 150.0,
  totalDiskGB: 500.0,
  status: "healthy",
  cachedImages: ["macos-sonoma-runner", "macos-ventura-base"],
  labels: { arch: "arm64", xcode: "16.1", gpu: "" },
};

const mac2 = {
  nodeId: "mac-mini-002",
  vmCount: 0,
  vms: [],
  cpuUsagePercent: 10.5,
  memoryUsageGB: 4.0,
  totalMemoryGB: 16.0,
  diskUsageGB: 100.0,
  totalDiskGB: 500.0,
  status: "idle",
  cachedImages: ["macos-monterey-base"],
};

test("nodes appear with their figures, VMs and cached images", async () => {
  await withDashboard({ daemon: { name: "figures", offlineTimeout: "60s" }, beforeOpen: async ({ daemon }) => daemon.heartbeats([mac1, mac2]) }, async ({ page }) => {
    const one = card("mac-mini-001");
    await page.locator(one).waitFor();

    assert.equal(await text(page, '[data-total="online"]'), "2");
    assert.equal(await text(page, '[data-total="offline"]'), "0");
    assert.equal(await text(page, '[data-total="total"]'), "2");
    assert.equal(await text(page, '[data-total="slots"]'), "4");
    assert.equal(await text(page, '[data-total="free"]'), "3");
    assert.equal(await text(page, '#vm-state-totals [data-vm-state="unmanaged"] dd'), "1");

    // A daemon alone leads; the page says which daemon it talks to.
    assert.equal(await text(page, "#daemon-role"), "leader");
    assert.match(await text(page, "#daemon-url"), /^127\.0\.0\.1:\d+$/);

    assert.equal(await text(page, `${one} h3`), "mac-mini-001");
    assert.equal(await text(page, `${one} [data-field="online"]`), "online");
    assert.equal(await text(page, `${one} [data-field="status"]`), "healthy");
    // An online node reports all the time: no "last seen" ticking on its card.
    assert.ok(await page.locator(`${one} [data-field="last-seen-line"]`).isHidden());
    assert.deepEqual(await page.locator(`${one} [data-field="labels"] li`).allTextContents(), ["arch=arm64", "gpu", "xcode=16.1"]);
    assert.equal(await text(page, `${one} [data-field="CPU-value"]`), "45%");
    assert.equal(await text(page, `${one} [data-field="Memory-value"]`), "8.5 / 16 GB");
    assert.equal(await text(page, `${one} [data-field="Disk-value"]`), "150 / 500 GB");
    assert.equal(await page.getAttribute(`${one} [data-field="CPU"]`, "aria-valuenow"), "45");
    assert.equal(await page.locator(`${one} [data-field="CPU"] span`).evaluate((bar) => bar.style.width), "45.2%");
    assert.equal(await page.locator(`${one} [data-field="Memory"] span`).evaluate((bar) => bar.style.width), "53.1%");
    assert.equal(await text(page, `${one} [data-field="slots"]`), "1 / 2");

    const vm = `${one} li[data-vm-id="vm-001-job-abc"]`;
    assert.equal(await text(page, `${vm} [data-state]`), "unmanaged");
    assert.equal(await text(page, `${vm} [data-field="image"]`), "macos-sonoma-runner");
    assert.equal(await text(page, `${vm} [data-field="runtime"]`), "1h 00m");
    assert.equal(await text(page, `${vm} [data-field="hostname"]`), "runner-abc");
    assert.equal(await text(page, `${vm} [data-field="ip"]`), "10.0.0.101");

    const chips = page.locator(`${one} [data-field="images"] li`);
    assert.equal(await chips.count(), 2);
    assert.equal(await chips.nth(0).getAttribute("data-in-use"), "true");
    assert.match(await chips.nth(0).textContent(), /^macos-sonoma-runner/);
    assert.equal(await chips.nth(1).getAttribute("data-in-use"), "false");
    const [inUse, idle] = await Promise.all([chips.nth(0).evaluate((c) => getComputedStyle(c).fontWeight), chips.nth(1).evaluate((c) => getComputedStyle(c).fontWeight)]);
    assert.notEqual(inUse, idle, "the image in use is highlighted");

    const two = card("mac-mini-002");
    assert.equal(await text(page, `${two} [data-field="status"]`), "idle");
    assert.equal(await page.locator(`${two} [data-field="vms"] li`).count(), 0);
    assert.ok(await page.locator(`${two} [data-field="no-vms"]`).isVisible());
    assert.ok(await page.locator(`${one} [data-field="no-vms"]`).isHidden());
    assert.equal(await text(page, `${two} [data-field="slots"]`), "0 / 2");
  });
});

test("a degraded node says why on its card and in the table, until its agent stops saying it", async () => {
  const reason = "macOS refuses another VM with 0 running: a ghost VM holds a slot until the host is rebooted";
  const degraded = { ...mac2, nodeId: "mac-mini-003", status: "degraded", statusReason: reason };
  await withDashboard(
    { daemon: { name: "degraded", offlineTimeout: "60s" }, beforeOpen: async ({ daemon }) => daemon.heartbeats([mac1, degraded]) },
    async ({ daemon, page }) => {
      const node = card("mac-mini-003");
      await page.locator(node).waitFor();
      assert.equal(await text(page, `${node} [data-field="status"]`), "degraded");
      assert.equal(await page.getAttribute(`${node} [data-field="status"]`, "title"), reason);
      assert.ok(await page.locator(`${node} [data-field="status-reason"]`).isVisible());
      assert.equal(await text(page, `${node} [data-field="status-reason"]`), reason);
      const healthy = card("mac-mini-001");
      assert.ok(await page.locator(`${healthy} [data-field="status-reason"]`).isHidden(), "a node without a reason shows none");
      assert.equal(await page.getAttribute(`${healthy} [data-field="status"]`, "title"), null);
      await screenshot(page, "node-degraded");

      await page.fill("#filter-text", "ghost rebooted");
      await page.waitForFunction(() => [...document.querySelectorAll("#node-grid > article")].map((a) => a.dataset.nodeId).join() === "mac-mini-003");
      await page.fill("#filter-text", "");

      await page.click("#layout-table");
      const row = '#node-rows tr[data-node-id="mac-mini-003"]';
      await page.locator(row).waitFor();
      assert.ok(await page.locator(`${row} [data-field="status-reason"]`).isVisible());
      assert.equal(await text(page, `${row} [data-field="status-reason"]`), reason);
      assert.equal(await page.getAttribute(`${row} [data-field="status-reason"]`, "title"), reason, "the cut line keeps the whole reason");
      assert.equal(await page.getAttribute(`${row} [data-field="status"]`, "title"), reason);

      // Healed: a heartbeat without a reason clears it.
      const healed = { ...degraded, status: "idle" };
      delete healed.statusReason;
      await daemon.heartbeat(healed);
      await page.click("#refresh-now");
      await waitForText(page, `${row} [data-field="status"]`, "idle");
      assert.ok(await page.locator(`${row} [data-field="status-reason"]`).isHidden());
      assert.equal(await page.getAttribute(`${row} [data-field="status"]`, "title"), null);
    },
  );
});

test("a node that stops heartbeating turns offline, greyed and last", async () => {
  const reports = new Map([mac1, mac2, { ...mac2, nodeId: "mac-mini-003" }].map((r) => [r.nodeId, r]));
  let stop;
  await withDashboard(
    { daemon: { name: "offline" }, beforeOpen: async ({ daemon }) => { await daemon.heartbeats([...reports.values()]); stop = keepAlive(daemon, reports, 500); } },
    async ({ page }) => {
      try {
        await page.locator(card("mac-mini-003")).waitFor();
        const order = () => page.locator("#node-grid > article").evaluateAll((cards) => cards.map((c) => c.dataset.nodeId));
        assert.deepEqual(await order(), ["mac-mini-001", "mac-mini-002", "mac-mini-003"]);
        assert.equal(await page.getAttribute(card("mac-mini-001"), "data-online"), "true");

        reports.delete("mac-mini-001"); // its agent stops
        await page.waitForSelector(`${card("mac-mini-001")}[data-online="false"]`, { timeout: 20_000 });
        assert.equal(await text(page, `${card("mac-mini-001")} [data-field="online"]`), "offline");
        // What its agent said last is not how the Mac is now; when it was last seen, is.
        assert.equal(await text(page, `${card("mac-mini-001")} [data-field="status"]`), "last reported healthy");
        assert.equal(await page.getAttribute(`${card("mac-mini-001")} [data-field="status"]`, "data-stale"), "true");
        assert.match(await text(page, `${card("mac-mini-001")} [data-field="last-seen-line"]`), /^Last seen (\d+ s|just now)/);
        assert.equal(await text(page, `${card("mac-mini-002")} [data-field="status"]`), "idle");
        assert.ok(await page.locator(`${card("mac-mini-002")} [data-field="last-seen-line"]`).isHidden());
        assert.match(await page.getAttribute(card("mac-mini-001"), "class"), /grayscale/);
        assert.doesNotMatch(await page.getAttribute(card("mac-mini-002"), "class"), /grayscale/);
        await page.waitForFunction(
          (expected) => [...document.querySelectorAll("#node-grid > article")].map((c) => c.dataset.nodeId).join() === expected,
          "mac-mini-002,mac-mini-003,mac-mini-001",
        );
        await waitForText(page, '[data-total="offline"]', "1");
        assert.equal(await text(page, '[data-total="online"]'), "2");
      } finally {
        await stop();
      }
    },
  );
});

test("a scheduled VM appears on its node, runs, and a queued one waits in the queue", async () => {
  await withDashboard({ daemon: { name: "schedule", offlineTimeout: "60s" }, beforeOpen: async ({ daemon }) => daemon.heartbeats([mac2]) }, async ({ daemon, page }) => {
    await page.locator(card("mac-mini-002")).waitFor();
    const placed = await daemon.scheduleVm({ imageName: "macos-monterey-base", vmId: "job-77", metadata: { workflow: "ui" } });
    assert.equal(placed.status, 200);
    assert.equal(placed.body.nodeId, "mac-mini-002");

    await page.click("#refresh-now");
    const row = `${card("mac-mini-002")} li[data-vm-id="job-77"]`;
    await waitForText(page, `${row} [data-state]`, "assigned");
    assert.equal(await text(page, `${row} [data-field="image"]`), "macos-monterey-base");
    assert.equal(await text(page, `${card("mac-mini-002")} [data-field="slots"]`), "1 / 2");
    assert.equal(await text(page, '#vm-state-totals [data-vm-state="assigned"] dd'), "1");

    // The host reports it: it runs.
    await daemon.heartbeat({
      ...mac2,
      vmCount: 1,
      vms: [{ vmId: "job-77", imageName: "macos-monterey-base", runtimeSeconds: 75, vmHostname: "runner-77", vmIpAddress: "10.0.0.77" }],
    });
    await page.keyboard.press("r");
    await waitForText(page, `${row} [data-state]`, "running");
    assert.equal(await text(page, `${row} [data-field="hostname"]`), "runner-77");
    assert.match(await text(page, `${row} [data-field="runtime"]`), /^1m \d\ds$/);
    assert.equal(await page.getAttribute(`${card("mac-mini-002")} [data-field="images"] li`, "data-in-use"), "true");

    // Fill the last slot, then one more waits in the queue.
    assert.equal((await daemon.scheduleVm({ imageName: "macos-monterey-base", vmId: "job-78" })).status, 200);
    assert.equal((await daemon.scheduleVm({ imageName: "macos-sonoma-runner", vmId: "job-79", wait: true, labels: ["arch=arm64"] })).status, 202);

    await page.click("#tab-vms");
    await page.click("#refresh-now");
    await page.locator('#queue-list li[data-vm-id="job-79"]').waitFor();
    const queued = '#queue-list li[data-vm-id="job-79"]';
    assert.equal(await text(page, `${queued} > span`), "1");
    assert.equal(await text(page, `${queued} [data-field="vm-id"]`), "job-79");
    assert.match(await text(page, `${queued} [data-field="waiting"]`), /^waiting \d+ s$/);
    assert.equal(await text(page, `${queued} [data-field="image"]`), "macos-sonoma-runner");
    assert.equal(await text(page, `${queued} [data-field="labels"]`), "needs arch=arm64");
    assert.equal(await text(page, '#vm-rows tr[data-vm-id="job-77"] [data-state]'), "running");
    assert.equal(await text(page, '#vm-rows tr[data-vm-id="job-77"] [data-field="node"]'), "mac-mini-002");
    assert.equal(await text(page, '#vm-rows tr[data-vm-id="job-79"] [data-state]'), "pending");
    assert.equal(await text(page, '#vm-rows tr[data-vm-id="job-79"] [data-field="node"]'), "–");
    assert.equal(await text(page, '[data-total="free"]'), "0");
    assert.equal(await page.getAttribute("#total-slots", "data-level"), "critical");
    assert.equal(await text(page, "#capacity-warning"), "Fleet full");
  });
});

test("a failed VM shows its reason in the VMs view", async () => {
  await withDashboard({ daemon: { name: "failure", offlineTimeout: "60s", args: ["--max-attempts", "1"] }, beforeOpen: async ({ daemon }) => daemon.heartbeats([mac2]) }, async ({ daemon, page }) => {
    assert.equal((await daemon.scheduleVm({ imageName: "macos-monterey-base", vmId: "job-bad" })).status, 200);
    const event = await daemon.post("/api/vms/job-bad/events", { state: "failed", message: "tart run: the VM limit is reached" });
    assert.equal(event.status, 200);
    const record = await daemon.get("/api/vms/job-bad");
    assert.equal(record.state, "failed");

    await page.click("#tab-vms");
    await page.click("#refresh-now");
    const row = '#vm-rows tr[data-vm-id="job-bad"]';
    await waitForText(page, `${row} [data-state]`, "failed");
    assert.equal(await text(page, `${row} [data-field="reason"]`), record.failureReason);
    assert.match(record.failureReason, /VM limit/);
    assert.equal(await text(page, '#vm-state-totals [data-vm-state="failed"] dd'), "1");
  });
});

test("light and dark themes follow the system and stay readable", async () => {
  for (const colorScheme of ["light", "dark"]) {
    let stop;
    await withDashboard(
      {
        daemon: { name: `theme-${colorScheme}`, args: ["--max-attempts", "1"] },
        colorScheme,
        viewport: { width: 1600, height: 900 },
        beforeOpen: async ({ daemon }) => {
          const reports = await populate(daemon, 7);
          await daemon.post("/api/nodes/mac-mini-004/drain", {});
          await daemon.post("/api/vms/job-4104/events", { state: "provisioning", message: "downloading image: 4.1 of 22 GB", progress: 0.19 });
          await daemon.heartbeat(heartbeatOf(8)); // then silent: offline
          await daemon.scheduleVm({ imageName: "ghcr.io/acme/macos-sonoma-xcode:15.4", vmId: "job-flaky" });
          await daemon.post("/api/vms/job-flaky/events", { state: "failed", message: "tart clone: no space left on device" });
          await daemon.scheduleVm({ imageName: "ghcr.io/acme/macos-sequoia-xcode:16.1", vmId: "job-queued", wait: true, labels: { chip: "m9" } });
          stop = keepAlive(daemon, reports, 500);
        },
      },
      async ({ page }) => {
        try {
          await page.waitForSelector(`${card("mac-mini-008")}[data-online="false"]`, { timeout: 20_000 });
          // Average of R, G and B (0-255) of computed colours, whatever notation they use.
          const colours = await page.evaluate(() => {
            const canvas = document.createElement("canvas");
            canvas.width = canvas.height = 1;
            const context = canvas.getContext("2d", { willReadFrequently: true });
            const level = (colour) => {
              context.clearRect(0, 0, 1, 1);
              context.fillStyle = colour;
              context.fillRect(0, 0, 1, 1);
              const [r, g, b] = context.getImageData(0, 0, 1, 1).data;
              return (r + g + b) / 3;
            };
            return {
              background: level(getComputedStyle(document.body).backgroundColor),
              text: level(getComputedStyle(document.body).color),
              card: level(getComputedStyle(document.querySelector("article")).backgroundColor),
            };
          });
          const lightness = (value) => value;
          if (colorScheme === "dark") {
            assert.ok(lightness(colours.background) < 60, `dark background: ${colours.background}`);
            assert.ok(lightness(colours.text) > 200, `light text: ${colours.text}`);
            assert.ok(lightness(colours.card) < 80, `dark cards: ${colours.card}`);
          } else {
            assert.ok(lightness(colours.background) > 200, `light background: ${colours.background}`);
            assert.ok(lightness(colours.text) < 60, `dark text: ${colours.text}`);
          }
          await page.evaluate(() => document.fonts.ready);
          await screenshot(page, colorScheme, { fullPage: true });
          await page.click("#tab-vms");
          await page.locator('#vm-rows tr[data-vm-id="job-queued"]').waitFor();
          await screenshot(page, `vms-${colorScheme}`, { fullPage: true });
        } finally {
          await stop();
        }
      },
    );
  }
});
