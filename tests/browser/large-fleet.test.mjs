// A large fleet: 200 nodes render (those on screen), refresh in place (keyed elements, not
// rebuilt), and the compact table shows them all as the page scrolls.
import assert from "node:assert/strict";
import { test } from "node:test";
import { screenshot } from "./lib/browser.mjs";
import { heartbeatOf, populate } from "./lib/fleet.mjs";
import { card, text, useBrowser, waitForText, withDashboard } from "./lib/harness.mjs";

useBrowser();

// The grid keeps elements only for the cards on screen (and a screen's height around): scrolling
// brings the others.
const rendered = (page, selector) => page.locator(selector).count();
const scrollToEnd = (page) => page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));

test("200 nodes render as the page scrolls, and a refresh updates their elements in place", async () => {
  await withDashboard(
    {
      daemon: { name: "large", offlineTimeout: "10m" },
      viewport: { width: 1920, height: 1080 },
      beforeOpen: async ({ daemon }) => populate(daemon, 200, { perNode: 1.5 }),
    },
    async ({ daemon, page }) => {
      await page.locator(card("mac-mini-001")).waitFor();
      assert.equal(await text(page, '[data-total="total"]'), "200");
      assert.equal(await text(page, "#count-nodes"), "200");
      const cards = await rendered(page, "#node-grid > article");
      assert.ok(cards > 10 && cards < 200, `${cards} cards on screen and around it, not 200`);
      await page.evaluate(() => document.fonts.ready);
      await screenshot(page, "nodes-200");

      // The page is as tall as 200 cards: its end shows the last ones.
      await scrollToEnd(page);
      await page.locator(card("mac-mini-200")).waitFor({ state: "visible" });
      assert.equal(await page.locator(card("mac-mini-001")).count(), 0, "the first cards are gone once far off screen");
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.locator(card("mac-mini-001")).waitFor({ state: "visible" });

      // Tag every card and VM row, change one node, refresh: the same elements show the news.
      await page.evaluate(() => {
        for (const element of document.querySelectorAll("#node-grid > article, #node-grid li[data-vm-id]")) element.probe = true;
      });
      const mutations = page.evaluate(
        () =>
          new Promise((resolve) => {
            let added = 0;
            const observer = new MutationObserver((records) => {
              for (const record of records) added += [...record.addedNodes].filter((n) => n.nodeType === 1 && n.matches("article")).length;
            });
            observer.observe(document.querySelector("#node-grid"), { childList: true });
            window.stopObserving = () => {
              observer.disconnect();
              resolve(added);
            };
          }),
      );
      const changed = heartbeatOf(17, (await daemon.get("/api/nodes/mac-mini-017")).vms);
      changed.cpuUsagePercent = 97.4;
      changed.status = "busy";
      await daemon.heartbeat(changed);
      await page.click("#refresh-now");
      await waitForText(page, `${card("mac-mini-017")} [data-field="CPU-value"]`, "97%");
      assert.equal(await text(page, `${card("mac-mini-017")} [data-field="status"]`), "busy");
      assert.equal(await page.getAttribute(`${card("mac-mini-017")} [data-field="CPU"]`, "data-level"), "critical");
      await page.evaluate(() => window.stopObserving());
      assert.equal(await mutations, 0, "no card was added: the grid was not rebuilt");
      const untagged = await page.evaluate(
        () => [...document.querySelectorAll("#node-grid > article, #node-grid li[data-vm-id]")].filter((e) => !e.probe).length,
      );
      assert.equal(untagged, 0, "every card and VM row is the element it was");

      // The table holds the same 200, as many rows as fill the screen and around it.
      await page.click("#layout-table");
      await page.locator('#node-rows > tr[data-node-id="mac-mini-001"]').waitFor({ state: "attached" });
      const rows = await rendered(page, "#node-rows > tr[data-node-id]");
      assert.ok(rows > 10 && rows < 200, `${rows} rows`);
      assert.equal(await page.locator("#node-grid > article").count(), 0);
      await screenshot(page, "nodes-200-table");
      await scrollToEnd(page);
      await page.locator('#node-rows > tr[data-node-id="mac-mini-200"]').waitFor({ state: "visible" });
    },
  );
});

test("500 nodes with 1,000 VMs: a refresh with no news changes nothing but the clocks", async () => {
  await withDashboard(
    {
      daemon: { name: "larger", offlineTimeout: "10m" },
      viewport: { width: 1920, height: 1080 },
      beforeOpen: async ({ daemon }) => populate(daemon, 500, { perNode: 2 }),
    },
    async ({ page }) => {
      await page.locator(card("mac-mini-001")).waitFor({ state: "attached" });
      await page.waitForFunction(() => document.querySelector("#count-vms").textContent === "1000");
      assert.equal(await text(page, '[data-total="free"]'), "0");
      const cards = await page.locator("#node-grid > article").count();
      assert.ok(cards < 100, `${cards} cards kept of 500`);
      assert.equal(await page.locator("#node-grid li[data-vm-id]").count(), 2 * cards);

      await page.evaluate(() => {
        const records = [];
        const observer = new MutationObserver((batch) => records.push(...batch));
        observer.observe(document.querySelector("#node-grid"), { subtree: true, childList: true, attributes: true, characterData: true });
        window.stopObserving = () => {
          observer.disconnect();
          const elementOf = (record) => (record.target.nodeType === 1 ? record.target : record.target.parentElement);
          const clocks = '[data-field="last-seen"], [data-field="runtime"]';
          return {
            total: records.length,
            others: records.filter((r) => !elementOf(r).closest(clocks)).map((r) => `${r.type} ${elementOf(r).outerHTML.slice(0, 100)}`),
          };
        };
      });
      await page.click("#refresh-now");
      await page.waitForFunction(() => !document.querySelector("#refresh-now").hasAttribute("aria-busy"));
      const changes = await page.evaluate(() => window.stopObserving());
      assert.deepEqual(changes.others, [], "only 'last seen' and runtimes may change");
    },
  );
});
