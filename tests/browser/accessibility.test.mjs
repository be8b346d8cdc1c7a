// Accessibility: axe-core's WCAG 2.2 AA rules find nothing on any view (nodes as cards and as a
// table, VMs, jobs, the sign-in prompt), light and dark; the keyboard focus stays where an
// operator expects it after Drain, Undrain and Clear filters.
import assert from "node:assert/strict";
import { test } from "node:test";
import { axeViolations } from "./lib/axe.mjs";
import { deliver, runnerHost, startGitHub } from "./lib/github.mjs";
import { heartbeatOf, keepAlive, populate } from "./lib/fleet.mjs";
import { card, useBrowser, waitForText, withDashboard } from "./lib/harness.mjs";
import { makeTokens } from "./lib/tokens.mjs";

useBrowser();

// A fleet with something of everything: VMs in several states, a queue, an offline, a drained
// and a degraded Mac.
async function variedFleet(daemon) {
  const reports = await populate(daemon, 7);
  await daemon.post("/api/nodes/mac-mini-004/drain", {});
  await daemon.post("/api/vms/job-4104/events", { state: "provisioning", message: "downloading image: 4.1 of 22 GB", progress: 0.19 });
  const degraded = { ...reports.get("mac-mini-005"), status: "degraded", statusReason: "a ghost VM holds a slot" };
  reports.set("mac-mini-005", degraded);
  await daemon.heartbeat(degraded);
  await daemon.heartbeat(heartbeatOf(8)); // then silent: offline
  await daemon.scheduleVm({ imageName: "ghcr.io/acme/macos-sonoma-xcode:15.4", vmId: "job-flaky" });
  await daemon.post("/api/vms/job-flaky/events", { state: "failed", message: "tart clone: no space left on device" });
  await daemon.scheduleVm({ imageName: "ghcr.io/acme/macos-sequoia-xcode:16.1", vmId: "job-queued", wait: true, labels: { chip: "m9" } });
  return keepAlive(daemon, reports, 500);
}

for (const colorScheme of ["light", "dark"]) {
  test(`no WCAG 2.2 AA violation on the nodes (cards, table) and VMs views, ${colorScheme}`, async () => {
    let stop;
    await withDashboard(
      {
        daemon: { name: `axe-${colorScheme}`, args: ["--max-attempts", "1"] },
        colorScheme,
        viewport: { width: 1600, height: 1000 },
        beforeOpen: async ({ daemon }) => {
          stop = await variedFleet(daemon);
        },
      },
      async ({ page }) => {
        try {
          await page.waitForSelector(`${card("mac-mini-008")}[data-online="false"]`, { timeout: 20_000 });
          assert.deepEqual(await axeViolations(page), [], "nodes as cards");
          await page.click("#layout-table");
          await page.locator('#node-rows tr[data-node-id="mac-mini-008"]').waitFor();
          assert.deepEqual(await axeViolations(page), [], "nodes as a table");
          await page.click("#tab-vms");
          await page.locator('#vm-rows tr[data-vm-id="job-queued"]').waitFor();
          await page.click('#vm-state-filter button[data-state-filter="failed"]');
          assert.deepEqual(await axeViolations(page), [], "VMs, a state filter chosen");
        } finally {
          await stop();
        }
      },
    );
  });
}

test("no WCAG 2.2 AA violation on the Jobs view, light and dark", async () => {
  const github = await startGitHub();
  try {
    for (const colorScheme of ["light", "dark"]) {
      await withDashboard(
        {
          daemon: { name: `axe-jobs-${colorScheme}`, offlineTimeout: "10m", args: github.args },
          colorScheme,
          path: "/?tab=jobs",
          beforeOpen: async ({ daemon }) => {
            await daemon.heartbeat(runnerHost("mac-1"));
            await deliver(daemon, "queued", { id: 301, repository: "acme/app" });
            await deliver(daemon, "queued", { id: 302, repository: "acme/web" });
            await deliver(daemon, "completed", { id: 302, repository: "acme/web", conclusion: "cancelled" });
          },
        },
        async ({ page }) => {
          await page.locator('#job-rows tr[data-job-id="301"]').waitFor();
          assert.deepEqual(await axeViolations(page), [], `jobs, ${colorScheme}`);
        },
      );
    }
  } finally {
    await github.close();
  }
});

test("no WCAG 2.2 AA violation on the sign-in prompt, light and dark", async () => {
  const tokens = makeTokens({ viewer: "viewer" });
  try {
    for (const colorScheme of ["light", "dark"]) {
      await withDashboard(
        {
          daemon: { name: `axe-sign-in-${colorScheme}`, args: ["--tokens-file", tokens.file] },
          colorScheme,
          allowErrors: /status of 401/,
        },
        async ({ page }) => {
          await page.locator("#sign-in").waitFor({ state: "visible" });
          assert.deepEqual(await axeViolations(page), [], `the prompt, ${colorScheme}`);
          await page.fill("#token-input", "mvx_wrong");
          await page.click("#sign-in-submit");
          await page.locator("#sign-in-message").waitFor({ state: "visible" });
          assert.deepEqual(await axeViolations(page), [], `a refused token, ${colorScheme}`);
        },
      );
    }
  } finally {
    tokens.remove();
  }
});

test("the keyboard focus stays on Drain and Undrain, and Clear filters leaves it in the search", async () => {
  await withDashboard(
    { daemon: { name: "focus", offlineTimeout: "10m" }, beforeOpen: async ({ daemon }) => daemon.heartbeats([heartbeatOf(1), heartbeatOf(2)]) },
    async ({ page }) => {
      const button = `${card("mac-mini-002")} button[data-node-action]`;
      await page.locator(button).waitFor();
      await page.focus(button);
      await page.keyboard.press("Enter");
      await waitForText(page, `${card("mac-mini-002")} [data-field="drained"]`, "draining");
      await page.locator(`${button}[data-node-action="undrain"]:not([aria-disabled])`).waitFor();
      assert.equal(await page.evaluate(() => document.activeElement.getAttribute("aria-label")), "Undrain mac-mini-002");
      await page.keyboard.press("Enter");
      await page.locator(`${button}[data-node-action="drain"]:not([aria-disabled])`).waitFor();
      assert.equal(await page.evaluate(() => document.activeElement.getAttribute("aria-label")), "Drain mac-mini-002");

      await page.click("#layout-table");
      const row = '#node-rows tr[data-node-id="mac-mini-001"] button[data-node-action]';
      await page.focus(row);
      await page.keyboard.press("Enter");
      await page.locator(`${row}[data-node-action="undrain"]:not([aria-disabled])`).waitFor();
      assert.equal(await page.evaluate(() => document.activeElement.getAttribute("aria-label")), "Undrain mac-mini-001");

      await page.fill("#filter-text", "mac-mini-001");
      await page.focus("#filter-clear");
      await page.keyboard.press("Enter");
      assert.equal(await page.inputValue("#filter-text"), "");
      assert.equal(await page.evaluate(() => document.activeElement.id), "filter-text", "the focus went to the search, not the page");
    },
  );
});
