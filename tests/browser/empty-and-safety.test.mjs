// An empty fleet explains how to connect an agent; strings from the API are text, never markup.
import assert from "node:assert/strict";
import { test } from "node:test";
import { screenshot } from "./lib/browser.mjs";
import { card, text, useBrowser, withDashboard } from "./lib/harness.mjs";

useBrowser();

test("an empty fleet shows how to connect an agent, and the example works", async () => {
  await withDashboard({ daemon: { name: "empty", offlineTimeout: "10m" } }, async ({ daemon, page }) => {
    await page.locator("#empty-fleet").waitFor({ state: "visible" });
    assert.equal(await text(page, '[data-total="total"]'), "0");
    assert.equal(await text(page, '[data-total="free"]'), "0");
    assert.equal(await page.getAttribute("#total-slots", "data-level"), "ok", "an empty fleet is not a full one");
    const example = await text(page, "#curl-example");
    assert.match(example, /^curl -X POST -H "Content-Type: application\/json" -d '\{/);
    assert.ok(example.endsWith(`${daemon.url}/api/heartbeat`), example);
    await screenshot(page, "empty");

    // The example is a valid heartbeat: send it as printed, and the node shows up.
    const body = JSON.parse(example.match(/-d '([^']*)'/)[1]);
    await daemon.heartbeat(body);
    await page.click("#refresh-now");
    await page.locator(card(body.nodeId)).waitFor();
    assert.ok(await page.locator("#empty-fleet").isHidden());
  });
});

// The daemon checks node ids, VM ids, image names and label keys; status and its reason, host
// names, addresses, label values, agent messages and metadata are free text.
test("strings from the API reach the page as text, never as markup", async () => {
  const hostile = '<img src=x onerror="window.pwned=1">';
  await withDashboard(
    {
      daemon: { name: "safety", offlineTimeout: "10m" },
      beforeOpen: async ({ daemon }) => {
        await daemon.heartbeat({
          nodeId: "mac-mini-666",
          vms: [{ vmId: "vm-666", imageName: "ghcr.io/acme/runner:1", runtimeSeconds: 5, vmHostname: "<b>bold</b>", vmIpAddress: hostile }],
          cpuUsagePercent: 50,
          totalMemoryGB: 16,
          totalDiskGB: 100,
          status: hostile,
          statusReason: hostile,
          cachedImages: ["ghcr.io/acme/runner:1"],
          labels: { note: "<em>value</em><script>window.pwned=2</script>" },
        });
        const placed = await daemon.scheduleVm({ imageName: "ghcr.io/acme/runner:1", vmId: "job-666", metadata: { note: hostile, ticket: "OPS-4242" } });
        assert.equal(placed.status, 200);
        await daemon.post("/api/vms/job-666/events", { state: "failed", message: hostile });
      },
    },
    async ({ page }) => {
      const node = card("mac-mini-666");
      await page.locator(node).waitFor();
      assert.equal(await text(page, `${node} [data-field="status"]`), hostile);
      assert.equal(await text(page, `${node} [data-field="status-reason"]`), hostile);
      assert.equal(await text(page, `${node} [data-field="hostname"]`), "<b>bold</b>");
      assert.equal(await text(page, `${node} [data-field="ip"]`), hostile);
      assert.equal(await text(page, `${node} [data-field="labels"] li`), "note=<em>value</em><script>window.pwned=2</script>");
      await page.click("#tab-vms");
      const failed = '#vm-rows tr[data-vm-id="job-666"]';
      await page.locator(failed).waitFor();
      assert.match(await text(page, `${failed} [data-field="reason"]`), /<img src=x onerror="window.pwned=1">/);
      await page.fill("#filter-text", "ops-4242");
      assert.deepEqual(await page.locator("#vm-rows > tr").evaluateAll((trs) => trs.map((tr) => tr.dataset.vmId)), ["job-666"], "the search reads metadata");
      const injected = await page.evaluate(() => ({
        elements: document.querySelectorAll("main img, main script, main b, main i, main u, main em").length,
        pwned: window.pwned ?? null,
      }));
      assert.deepEqual(injected, { elements: 0, pwned: null });
      assert.match(await page.locator("#filter-label option").allTextContents().then((o) => o.join("|")), /note=<em>value<\/em>/);
    },
  );
});
