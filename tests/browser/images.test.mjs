// The Images section (how many Macs hold each image and should, pulls, demand) and why a VM or
// a job's runner waits, against a daemon whose Macs are all full; and a daemon that predates both.
import assert from "node:assert/strict";
import { test } from "node:test";
import { screenshot } from "./lib/browser.mjs";
import { deliver, eventually, runnerHost, startGitHub } from "./lib/github.mjs";
import { text, useBrowser, waitForText, withDashboard } from "./lib/harness.mjs";
import { formatPercent, formatRate, formatRuntime } from "../../web/src/format.js";
import { pendingReasonText, vmTenancy } from "../../web/src/fleet-model.js";

useBrowser();

const SONOMA = "ghcr.io/acme/macos-sonoma-xcode:15.4";
const SEQUOIA = "ghcr.io/acme/macos-sequoia-xcode:16.1";

// A Mac with two slots (the daemon's default) caching `cachedImages`.
function mac(nodeId, cachedImages, vms = []) {
  return {
    nodeId,
    vmCount: vms.length,
    vms: vms.map((vm) => ({ runtimeSeconds: 30, vmHostname: vm.vmId, vmIpAddress: "192.168.64.20", ...vm })),
    cpuUsagePercent: 20,
    memoryUsageGB: 8,
    totalMemoryGB: 32,
    diskUsageGB: 300,
    totalDiskGB: 1000,
    status: "healthy",
    cachedImages,
    labels: { arch: "arm64" },
  };
}

const imageRow = (name) => `#image-rows tr[data-image="${name}"]`;
const vmRow = (vmId) => `#vm-rows tr[data-vm-id="${vmId}"]`;
const queueItem = (vmId) => `#queue-list li[data-vm-id="${vmId}"]`;

// Two Macs, both caching Sonoma, one Sequoia too; four Sonoma VMs take the four slots, then one
// more Sonoma VM and one asking for a label no Mac has wait.
async function fillTheFleet(daemon) {
  await daemon.heartbeats([mac("mac-1", [SONOMA, SEQUOIA]), mac("mac-2", [SONOMA])]);
  for (const vmId of ["job-1", "job-2", "job-3", "job-4"]) {
    const placed = await daemon.scheduleVm({ imageName: SONOMA, vmId });
    assert.equal(placed.status, 200, JSON.stringify(placed.body));
  }
  const waiting = await daemon.scheduleVm({ imageName: SONOMA, vmId: "job-wait", wait: true, priority: 5, tenant: "acme/app" });
  assert.equal(waiting.status, 202, JSON.stringify(waiting.body));
  const unplaceable = await daemon.scheduleVm({ imageName: SEQUOIA, vmId: "job-xcode99", wait: true, labels: ["xcode=99"] });
  assert.equal(unplaceable.status, 202, JSON.stringify(unplaceable.body));
}

test("the Images table shows how many Macs hold each image and should, and the demand", async () => {
  await withDashboard(
    { daemon: { name: "images", offlineTimeout: "10m" }, path: "/?tab=vms", beforeOpen: ({ daemon }) => fillTheFleet(daemon) },
    async ({ daemon, page }) => {
      await page.click("#refresh-now");
      await page.locator(imageRow(SONOMA)).waitFor();
      const answer = await daemon.get("/api/images");
      assert.ok(await page.locator("#images-section").isVisible());

      // The daemon's order (the most demanded first), one row per image.
      const shown = await page.locator("#image-rows > tr").evaluateAll((rows) => rows.map((r) => r.dataset.image));
      assert.deepEqual(shown, answer.images.map((image) => image.imageName));
      assert.ok(shown.includes(SONOMA) && shown.includes(SEQUOIA), shown.join(", "));

      const sonoma = answer.images.find((image) => image.imageName === SONOMA);
      const sequoia = answer.images.find((image) => image.imageName === SEQUOIA);
      assert.equal(sonoma.holders, 2, JSON.stringify(sonoma));
      assert.equal(sequoia.holders, 1, JSON.stringify(sequoia));
      for (const image of [sonoma, sequoia]) {
        const row = imageRow(image.imageName);
        assert.equal(await text(page, `${row} [data-field="holders"]`), String(image.holders), image.imageName);
        assert.equal(await text(page, `${row} [data-field="target"]`), String(image.target), image.imageName);
        assert.equal(await text(page, `${row} [data-field="hosts"]`), `${image.holders} / ${image.target}`);
        assert.equal(await text(page, `${row} [data-field="pulling"]`), String(image.pulling));
        assert.equal(await text(page, `${row} [data-field="demand"]`), formatRate(image.demand.placementsPerMinute));
        assert.equal(await text(page, `${row} [data-field="queued"]`), String(image.demand.queued));
        const share = image.cachedPlacementShare == null ? "–" : formatPercent(image.cachedPlacementShare * 100);
        assert.equal(await text(page, `${row} [data-field="cached-share"]`), share);
        const pull = image.meanPullSeconds == null ? "–" : formatRuntime(image.meanPullSeconds);
        assert.equal(await text(page, `${row} [data-field="mean-pull"]`), pull);
        assert.ok(await page.locator(`${row} [data-field="pinned"]`).isHidden(), "not pinned");
      }
      // Four Sonoma VMs went to Macs that held it; one waits.
      assert.equal(sonoma.demand.queued, 1, JSON.stringify(sonoma.demand));
      assert.equal(await text(page, `${imageRow(SONOMA)} [data-field="cached-share"]`), "100%");
      assert.equal(await text(page, `${imageRow(SONOMA)} [data-field="placements"]`), "4 of 4");
      assert.ok(
        (await text(page, "#image-pulls")).startsWith(`${answer.pullsInFlight} of at most ${answer.maxConcurrentPulls} pull${answer.maxConcurrentPulls === 1 ? "" : "s"} under way`),
      );
      assert.equal(await text(page, `${imageRow(SONOMA)} [data-field="peak"]`), `${sonoma.demand.vmsInUse} in use, peak ${sonoma.demand.peakVms}`);

      // An operator pins Sequoia to both Macs: the row says so, and counts what is missing.
      const pin = await fetch(`${daemon.url}/api/images/${encodeURIComponent(SEQUOIA)}`, {
        method: "PUT",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ minHosts: 2 }),
      });
      assert.equal(pin.status, 200, await pin.text());
      const pinned = (await daemon.get("/api/images")).images.find((image) => image.imageName === SEQUOIA);
      assert.equal(pinned.minHosts, 2);
      await page.click("#refresh-now");
      await waitForText(page, `${imageRow(SEQUOIA)} [data-field="pinned"]`, "pinned: at least 2 Macs");
      assert.equal(await text(page, `${imageRow(SEQUOIA)} [data-field="target"]`), String(pinned.target));
      await page.locator("#images-section").scrollIntoViewIfNeeded();
      await screenshot(page, "images", { fullPage: true });
    },
  );
});

test("a pending VM says why it waits, in the VM records and the queue, with its priority and tenant", async () => {
  await withDashboard(
    { daemon: { name: "pending-reason", offlineTimeout: "10m" }, path: "/?tab=vms", beforeOpen: ({ daemon }) => fillTheFleet(daemon) },
    async ({ daemon, page }) => {
      await page.locator(queueItem("job-xcode99")).waitFor();
      const waiting = await daemon.get("/api/vms/job-wait");
      const unplaceable = await daemon.get("/api/vms/job-xcode99");
      assert.equal(waiting.state, "pending");
      assert.equal(waiting.pendingReason.code, "noFreeSlot", JSON.stringify(waiting.pendingReason));
      assert.equal(unplaceable.pendingReason.code, "noNodeCarriesLabels", JSON.stringify(unplaceable.pendingReason));
      assert.deepEqual(unplaceable.pendingReason.missingLabels, ["xcode=99"]);

      // Both Macs are full: in the words of an operator.
      const expected = pendingReasonText(waiting.pendingReason, waiting.tenant);
      assert.match(expected, /^No free slot: 2 of 2 Macs full/);
      assert.equal(await text(page, `${vmRow("job-wait")} [data-field="reason"]`), expected);
      assert.equal(await page.getAttribute(`${vmRow("job-wait")} [data-field="reason"]`, "data-code"), "noFreeSlot");
      assert.equal(await text(page, `${queueItem("job-wait")} [data-field="pending-reason"]`), expected);
      const never = pendingReasonText(unplaceable.pendingReason, unplaceable.tenant);
      assert.match(never, /^No Mac carries xcode=99/);
      assert.equal(await text(page, `${vmRow("job-xcode99")} [data-field="reason"]`), never);
      assert.equal(await text(page, `${queueItem("job-xcode99")} [data-field="pending-reason"]`), never);
      assert.ok(await page.locator(`${vmRow("job-1")} [data-field="reason"]`).evaluate((td) => td.textContent === ""), "a placed VM has no reason to wait");

      // The queue in the daemon's placement order, with each VM's priority and tenant.
      const queue = await daemon.get("/api/queue");
      for (const item of queue) {
        const li = queueItem(item.vmId);
        assert.equal(await text(page, `${li} > span`), String(item.position), item.vmId);
        assert.match(await text(page, `${li} [data-field="tenancy"]`), new RegExp(`^${escape(vmTenancy(item, { priority: true }))}`));
      }
      assert.equal(waiting.tenant, "acme/app");
      assert.equal(waiting.priority, 5);
      assert.match(await text(page, `${queueItem("job-wait")} [data-field="tenancy"]`), /^tenant acme\/app · priority 5\b/);
      assert.equal(await text(page, `${vmRow("job-wait")} [data-field="tenancy"]`), "tenant acme/app · priority 5");
      assert.ok(await page.locator(`${vmRow("job-1")} [data-field="tenancy"]`).isHidden(), "no tenant, priority 0: nothing to say");

      // The search reads the reason too.
      await page.fill("#filter-text", "xcode=99");
      await page.waitForFunction(() => [...document.querySelectorAll("#vm-rows > tr")].map((tr) => tr.dataset.vmId).join() === "job-xcode99");
      await page.fill("#filter-text", "");
      await screenshot(page, "pending-reason", { fullPage: true });

      // A Mac with room arrives: the VM is placed and has nothing left to explain.
      await daemon.heartbeat(mac("mac-3", [SONOMA]));
      await eventually(async () => (await daemon.get("/api/vms/job-wait")).state !== "pending", "job-wait placed");
      await page.click("#refresh-now");
      await page.locator(queueItem("job-wait")).waitFor({ state: "detached" });
      await waitForText(page, `${vmRow("job-wait")} [data-field="reason"]`, "");
      assert.equal(await page.getAttribute(`${vmRow("job-wait")} [data-field="reason"]`, "data-code"), null);
    },
  );
});

test("a queued job says why a runner for it has no Mac, until a Mac has room", async () => {
  const github = await startGitHub();
  try {
    await withDashboard(
      {
        daemon: { name: "job-pending-reason", offlineTimeout: "10m", args: github.args },
        path: "/?tab=jobs",
        beforeOpen: ({ daemon }) => deliver(daemon, "queued", { id: 301, repository: "acme/app" }),
      },
      async ({ daemon, page }) => {
        const reason = '#job-rows tr[data-job-id="301"] [data-field="pending-reason"]';
        const vm = await eventually(async () => (await daemon.get("/api/vms")).find((r) => r.metadata?.pool === "sonoma"), "the runner VM");
        const job = await eventually(async () => {
          const answer = await daemon.get("/api/jobs/301");
          return answer.pendingReason ? answer : undefined;
        }, "the job's pendingReason");
        assert.equal(job.pendingReason.code, "noNodes", JSON.stringify(job.pendingReason));
        await page.click("#refresh-now");
        await waitForText(page, reason, "No Mac has reported yet");
        assert.equal(await page.getAttribute(reason, "data-code"), "noNodes");
        await screenshot(page, "job-pending-reason");

        await daemon.heartbeat(runnerHost("mac-1"));
        await eventually(async () => (await daemon.get(`/api/vms/${vm.vmId}`)).nodeId === "mac-1", "the runner VM placed on mac-1");
        // mac-1 has room for another runner: nothing keeps one from a Mac.
        await eventually(async () => {
          const reason = (await daemon.get("/api/jobs/301")).pendingReason;
          return reason?.code === "behindInQueue" && reason.aheadInQueue === 0;
        }, "a Mac with room for the job's runner");
        await page.click("#refresh-now");
        await page.waitForFunction((s) => document.querySelector(s)?.hidden, reason);
      },
    );
  } finally {
    await github.close();
  }
});

// A daemon that predates /api/images and the fields of why a VM waits: the page shows what it
// had before, asks for the images once, and logs nothing but that 404.
test("with a daemon that predates them, no Images section and no reasons, and no error", async () => {
  const strip = ({ pendingReason, priority, tenant, position, tenantShare, ...rest }) => rest;
  await withDashboard(
    {
      daemon: { name: "images-older-daemon", offlineTimeout: "10m" },
      path: "/?tab=vms",
      allowErrors: /status of 404/,
      beforeOpen: async ({ daemon, page }) => {
        await fillTheFleet(daemon);
        await page.route((url) => url.pathname === "/api/images", (route) => route.fulfill({ status: 404, json: { error: "not found" } }));
        // Such a daemon also predates the listings' deltas: it answers the plain lists.
        for (const path of ["/api/nodes", "/api/vms", "/api/queue"]) {
          await page.route(
            (url) => url.pathname === path,
            async (route) => route.fulfill({ json: (await daemon.get(path)).map(strip) }),
          );
        }
      },
    },
    async ({ page, count }) => {
      await page.locator(queueItem("job-xcode99")).waitFor();
      assert.ok(await page.locator("#images-section").isHidden());
      assert.ok(await page.locator("#images-json-link").isHidden());
      assert.equal(await text(page, `${queueItem("job-wait")} > span`), "1", "the order of the list");
      assert.equal(await text(page, `${queueItem("job-xcode99")} > span`), "2");
      assert.ok(await page.locator(`${queueItem("job-wait")} [data-field="pending-reason"]`).isHidden());
      assert.ok(await page.locator(`${queueItem("job-wait")} [data-field="tenancy"]`).isHidden());
      assert.ok(await page.locator(`${vmRow("job-wait")} [data-field="tenancy"]`).isHidden());
      assert.equal(await text(page, `${vmRow("job-wait")} [data-field="reason"]`), "");

      await page.click("#refresh-now");
      await page.waitForFunction(() => !document.querySelector("#refresh-now").hasAttribute("aria-busy"));
      assert.ok(count("/api/vms") >= 2);
      assert.equal(count("/api/images"), 1, "asked once");
    },
  );
});

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
