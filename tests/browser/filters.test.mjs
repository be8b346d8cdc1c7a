// Search and filters, kept in the URL across reloads, and the keyboard.
import assert from "node:assert/strict";
import { test } from "node:test";
import { IMAGES, heartbeatOf, populate } from "./lib/fleet.mjs";
import { card, text, useBrowser, withDashboard } from "./lib/harness.mjs";

useBrowser();

const shownNodes = (page) => page.locator("#node-grid > article").evaluateAll((cards) => cards.map((c) => c.dataset.nodeId));

test("search and filters by node name, image, label and state survive a reload", async () => {
  let nodes;
  let records;
  await withDashboard(
    {
      daemon: { name: "filters", offlineTimeout: "10m" },
      beforeOpen: async ({ daemon }) => {
        await populate(daemon, 12);
        nodes = await daemon.get("/api/nodes");
        records = await daemon.get("/api/vms");
      },
    },
    async ({ page }) => {
      await page.locator(card("mac-mini-012")).waitFor();
      assert.equal((await shownNodes(page)).length, 12);
      assert.ok(await page.locator("#nodes-shown").isHidden());
      assert.ok(await page.locator("#filter-clear").isDisabled());

      // By name.
      await page.fill("#filter-text", "mini-007");
      assert.deepEqual(await shownNodes(page), ["mac-mini-007"]);
      assert.equal(await text(page, "#nodes-shown"), "Showing 1 of 12 nodes");
      assert.equal(new URL(page.url()).searchParams.get("q"), "mini-007");
      await page.reload();
      await page.locator(card("mac-mini-007")).waitFor();
      assert.equal(await page.inputValue("#filter-text"), "mini-007");
      assert.deepEqual(await shownNodes(page), ["mac-mini-007"]);

      // The search also finds VMs and labels: every word must match.
      await page.fill("#filter-text", "chip=m4");
      const m4 = nodes.filter((n) => n.labels.chip === "m4").map((n) => n.nodeId);
      assert.ok(m4.length > 0 && m4.length < 12);
      assert.deepEqual(await shownNodes(page), m4);
      const vm = nodes.find((n) => n.vms.length > 0).vms[0];
      await page.fill("#filter-text", vm.vmId);
      assert.deepEqual(await shownNodes(page), [nodes.find((n) => n.vms.some((v) => v.vmId === vm.vmId)).nodeId]);
      await page.fill("#filter-text", "nothing-like-this");
      assert.deepEqual(await shownNodes(page), []);
      assert.ok(await page.locator("#no-node-match").isVisible());
      await page.fill("#filter-text", "");

      // By image: nodes that cache it, run it or are about to.
      const image = IMAGES[1];
      await page.selectOption("#filter-image", image);
      const placed = (n) => records.some((r) => r.nodeId === n.nodeId && r.imageName === image);
      const withImage = nodes.filter((n) => n.cachedImages.includes(image) || placed(n)).map((n) => n.nodeId);
      assert.ok(withImage.length > 0 && withImage.length < 12);
      assert.deepEqual(await shownNodes(page), withImage);

      // And by label: both filters apply.
      await page.selectOption("#filter-label", "chip=m2");
      const both = nodes.filter((n) => withImage.includes(n.nodeId) && n.labels.chip === "m2").map((n) => n.nodeId);
      assert.deepEqual(await shownNodes(page), both);
      assert.equal(await text(page, "#nodes-shown"), `Showing ${both.length} of 12 nodes`);

      await page.reload();
      await page.locator("#node-grid").waitFor();
      await page.waitForFunction(() => document.querySelector("#updated").textContent.startsWith("Updated"));
      assert.equal(await page.inputValue("#filter-image"), image);
      assert.equal(await page.inputValue("#filter-label"), "chip=m2");
      assert.deepEqual(await shownNodes(page), both);

      await page.click("#filter-clear");
      assert.equal((await shownNodes(page)).length, 12);
      assert.equal(new URL(page.url()).search, "");

      // By state.
      await page.selectOption("#filter-state", "free");
      const free = nodes.filter((n) => n.isOnline && n.freeSlots > 0).map((n) => n.nodeId);
      assert.deepEqual(await shownNodes(page), free);
      await page.selectOption("#filter-state", "full");
      assert.deepEqual(await shownNodes(page), nodes.filter((n) => n.isOnline && n.freeSlots === 0).map((n) => n.nodeId));
      await page.selectOption("#filter-state", "offline");
      assert.deepEqual(await shownNodes(page), []);

      // The table applies the same filters.
      await page.selectOption("#filter-state", "free");
      await page.click("#layout-table");
      const rows = await page.locator("#node-rows > tr").evaluateAll((trs) => trs.map((tr) => tr.dataset.nodeId));
      assert.deepEqual(rows, free);
      assert.equal(await page.locator("#node-grid > article").count(), 0, "only the visible layout keeps elements");
      await page.reload();
      await page.locator("#node-rows > tr").first().waitFor();
      assert.equal(await page.getAttribute("#layout-table", "aria-pressed"), "true");
      assert.equal(await page.inputValue("#filter-state"), "free");
    },
  );
});

test("the VMs view filters by state and by the search", async () => {
  let vms;
  await withDashboard(
    {
      daemon: { name: "vm-filters", offlineTimeout: "10m" },
      beforeOpen: async ({ daemon }) => {
        await populate(daemon, 6);
        vms = await daemon.get("/api/vms");
      },
      path: "/?tab=vms",
    },
    async ({ page }) => {
      const rows = () => page.locator("#vm-rows > tr").evaluateAll((trs) => trs.map((tr) => [tr.dataset.vmId, tr.dataset.state]));
      await page.locator("#vm-rows > tr").first().waitFor();
      assert.equal(await page.getAttribute("#tab-vms", "aria-selected"), "true");
      assert.ok(await page.locator("#panel-nodes").isHidden());
      assert.equal((await rows()).length, vms.length);

      const assigned = vms.filter((vm) => vm.state === "assigned").map((vm) => vm.vmId).sort();
      assert.ok(assigned.length > 0);
      await page.click('#vm-state-filter button[data-state-filter="assigned"]');
      assert.equal(await page.getAttribute('#vm-state-filter button[data-state-filter="assigned"]', "aria-pressed"), "true");
      assert.deepEqual((await rows()).map(([id]) => id).sort(), assigned);
      assert.ok((await rows()).every(([, state]) => state === "assigned"));
      assert.match(await text(page, '#vm-state-filter button[data-state-filter="running"]'), new RegExp(`running${vms.filter((vm) => vm.state === "running").length}$`));
      assert.equal(new URL(page.url()).searchParams.get("vmstate"), "assigned");

      await page.reload();
      await page.locator("#vm-rows > tr").first().waitFor();
      assert.deepEqual((await rows()).map(([id]) => id).sort(), assigned);

      await page.click('#vm-state-filter button[data-state-filter=""]');
      const one = vms.find((vm) => vm.state === "running");
      await page.fill("#filter-text", one.vmId);
      assert.deepEqual(await rows(), [[one.vmId, "running"]]);
      assert.equal(await text(page, `#vm-rows tr[data-vm-id="${one.vmId}"] [data-field="node"]`), one.nodeId);
      await page.fill("#filter-text", one.nodeId);
      const onNode = vms.filter((vm) => vm.nodeId === one.nodeId).map((vm) => vm.vmId).sort();
      assert.deepEqual((await rows()).map(([id]) => id).sort(), onNode);
    },
  );
});

test("the page works from the keyboard", async () => {
  await withDashboard(
    { daemon: { name: "keyboard", offlineTimeout: "10m" }, beforeOpen: async ({ daemon }) => daemon.heartbeats([heartbeatOf(1), heartbeatOf(2)]) },
    async ({ page, count }) => {
      await page.locator(card("mac-mini-002")).waitFor();

      // The first Tab reaches the skip link, which leads to the fleet.
      await page.keyboard.press("Tab");
      assert.equal(await page.evaluate(() => document.activeElement.textContent), "Skip to the fleet");
      await page.keyboard.press("Enter");
      assert.equal(await page.evaluate(() => document.activeElement.id), "main");

      // "/" goes to the search; Escape clears it, then leaves it.
      await page.keyboard.press("/");
      assert.equal(await page.evaluate(() => document.activeElement.id), "filter-text");
      await page.keyboard.type("mac-mini-002");
      assert.equal(await page.locator("#node-grid > article").count(), 1);
      await page.keyboard.press("Escape");
      assert.equal(await page.inputValue("#filter-text"), "");
      assert.equal(await page.locator("#node-grid > article").count(), 2);
      await page.keyboard.press("Escape");
      assert.notEqual(await page.evaluate(() => document.activeElement.id), "filter-text");

      // "r" refreshes.
      const before = count("/api/nodes");
      await page.keyboard.press("r");
      await page.waitForFunction(() => !document.querySelector("#refresh-now").hasAttribute("aria-busy"));
      assert.equal(count("/api/nodes"), before + 1);

      // Arrow keys move between the tabs, which switch the panels.
      await page.focus("#tab-nodes");
      await page.keyboard.press("ArrowRight");
      assert.equal(await page.evaluate(() => document.activeElement.id), "tab-vms");
      assert.ok(await page.locator("#panel-vms").isVisible());
      assert.ok(await page.locator("#panel-nodes").isHidden());
      await page.keyboard.press("ArrowLeft");
      assert.equal(await page.evaluate(() => document.activeElement.id), "tab-nodes");
      assert.ok(await page.locator("#panel-nodes").isVisible());

      // Every control has a visible focus ring.
      await page.focus("#refresh-now");
      const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
      assert.notEqual(outline, "none");
    },
  );
});
