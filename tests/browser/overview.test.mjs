// The overview: one cell per Mac, coloured by its state and slots in use, grouped by a label
// key, with a tooltip for the pointer and the keyboard; a click or Enter opens the Mac's card.
import assert from "node:assert/strict";
import { test } from "node:test";
import { axeViolations } from "./lib/axe.mjs";
import { screenshot } from "./lib/browser.mjs";
import { heartbeatOf, keepAlive, populate } from "./lib/fleet.mjs";
import { card, text, useBrowser, withDashboard } from "./lib/harness.mjs";

useBrowser();

const cell = (nodeId) => `#overview .ov-cell[data-node-id="${nodeId}"]`;

// The state the overview should give a node of GET /api/nodes, worked out here on its own.
function expectedState(node) {
  if (!node.isOnline) return "offline";
  if (node.drained) return "draining";
  if (node.status === "degraded") return "degraded";
  const used = Math.min(node.maxVms, node.vmCount + node.reservedSlots);
  if (used === 0) return "free";
  return used >= node.maxVms ? "full" : "partly";
}

// 24 Macs with VMs, one drained, one degraded, two silent (offline) and a few idle ones.
async function fleet(daemon) {
  const reports = await populate(daemon, 24, { perNode: 1.2 });
  await daemon.post("/api/nodes/mac-mini-004/drain", {});
  const degraded = { ...reports.get("mac-mini-005"), status: "degraded", statusReason: "a ghost VM holds a slot" };
  reports.set("mac-mini-005", degraded);
  await daemon.heartbeat(degraded);
  await daemon.heartbeats([heartbeatOf(25), heartbeatOf(26), heartbeatOf(27), heartbeatOf(28)]);
  // 25 and 26 fall silent: offline after the daemon's 3 s.
  for (const i of [27, 28]) reports.set(`mac-mini-0${i}`, heartbeatOf(i));
  return keepAlive(daemon, reports, 500);
}

async function listNodes(daemon) {
  const answer = await daemon.get("/api/nodes");
  return Array.isArray(answer) ? answer : answer.nodes;
}

for (const colorScheme of ["light", "dark"]) {
  test(`the overview shows every Mac by state, groups them, and opens one (${colorScheme})`, async () => {
    let stop;
    await withDashboard(
      {
        daemon: { name: `overview-${colorScheme}` },
        colorScheme,
        path: "/?layout=overview",
        viewport: { width: 1440, height: 900 },
        beforeOpen: async ({ daemon }) => {
          stop = await fleet(daemon);
        },
      },
      async ({ daemon, page }) => {
        try {
          await page.waitForSelector(`${cell("mac-mini-026")}[data-cell="offline"]`, { timeout: 20_000 });
          await page.click("#refresh-now");
          await page.waitForFunction(() => !document.querySelector("#refresh-now").hasAttribute("aria-busy"));
          const nodes = await listNodes(daemon);
          assert.equal(await page.locator("#overview .ov-cell").count(), nodes.length, "one cell per Mac");
          assert.equal(await page.locator("#node-grid > article").count(), 0, "no cards kept meanwhile");

          // Colours follow the state: every cell has its node's state, one colour per state.
          const shown = await page.evaluate(() =>
            [...document.querySelectorAll("#overview .ov-cell")].map((e) => ({
              id: e.dataset.nodeId,
              state: e.dataset.cell,
              colour: getComputedStyle(e).backgroundColor,
              label: e.getAttribute("aria-label"),
            })),
          );
          const byId = new Map(shown.map((c) => [c.id, c]));
          for (const node of nodes) assert.equal(byId.get(node.nodeId).state, expectedState(node), node.nodeId);
          const states = new Set(shown.map((c) => c.state));
          for (const state of ["offline", "draining", "degraded", "free", "full"]) assert.ok(states.has(state), `a ${state} Mac is shown`);
          const colours = new Map();
          for (const c of shown) {
            if (colours.has(c.state)) assert.equal(colours.get(c.state), c.colour, `one colour for ${c.state}`);
            colours.set(c.state, c.colour);
          }
          assert.equal(new Set(colours.values()).size, colours.size, "each state its own colour");
          assert.match(byId.get("mac-mini-004").label, /^mac-mini-004: draining, \d of \d slots in use$/);
          // The legend counts them.
          const freeCount = shown.filter((c) => c.state === "free").length;
          assert.equal(await text(page, '#overview-legend [data-legend="free"] [data-field="count"]'), String(freeCount));

          // Hover shows the Mac in the tooltip.
          await page.hover(cell("mac-mini-005"));
          await page.locator("#overview-tip").waitFor({ state: "visible" });
          const tip = await text(page, "#overview-tip");
          assert.match(tip, /mac-mini-005/);
          assert.match(tip, /degraded: a ghost VM holds a slot/);
          assert.deepEqual(await axeViolations(page), [], "the overview with its tooltip");
          await screenshot(page, `overview-${colorScheme}`);

          // Grouped by chip: one group per chip, each with the Macs that carry it.
          await page.selectOption("#overview-group", "chip");
          await page.waitForSelector('#overview-groups section[data-group^="chip="]');
          const groups = await page.evaluate(() =>
            [...document.querySelectorAll("#overview-groups > section")].map((s) => ({
              group: s.dataset.group,
              ids: [...s.querySelectorAll(".ov-cell")].map((e) => e.dataset.nodeId),
            })),
          );
          const chips = new Set(nodes.map((node) => `chip=${node.labels.chip}`));
          assert.deepEqual(groups.map((g) => g.group).sort(), [...chips].sort());
          for (const group of groups) {
            for (const id of group.ids) assert.equal(`chip=${nodes.find((n) => n.nodeId === id).labels.chip}`, group.group);
          }
          assert.equal(groups.reduce((sum, g) => sum + g.ids.length, 0), nodes.length);
          assert.match(page.url(), /group=chip/);
          assert.deepEqual(await axeViolations(page), [], "the overview grouped");

          // A filter dims the Macs it leaves out; the map keeps every cell.
          await page.fill("#filter-text", "mac-mini-01");
          await page.waitForFunction(() => document.querySelectorAll("#overview .ov-cell[data-dim]").length > 0);
          const dimmed = await page.evaluate(() => [...document.querySelectorAll("#overview .ov-cell[data-dim]")].map((e) => e.dataset.nodeId));
          assert.equal(dimmed.length, nodes.filter((n) => !n.nodeId.includes("mac-mini-01")).length);
          assert.equal(await page.locator("#overview .ov-cell").count(), nodes.length);
          await page.fill("#filter-text", "");

          // The keyboard: the group is one stop, the arrows move, Enter opens the card.
          const first = groups[0];
          const list = `#overview-groups > section[data-group="${first.group}"] [role="listbox"]`;
          await page.focus(list);
          await page.keyboard.press("ArrowRight");
          const active = await page.evaluate((selector) => {
            const box = document.querySelector(selector);
            return document.getElementById(box.getAttribute("aria-activedescendant")).dataset.nodeId;
          }, list);
          assert.equal(active, first.ids[1]);
          assert.match(await text(page, "#overview-tip"), new RegExp(first.ids[1]));
          await page.keyboard.press("Enter");
          await page.locator(`${card(first.ids[1])}[data-opened]`).waitFor();
          assert.equal(await page.evaluate(() => document.activeElement.dataset.nodeId), first.ids[1], "the card has the focus");
          assert.match(page.url(), /^(?!.*layout=overview)/);

          // A click on a cell far down opens that Mac, scrolled to.
          await page.click("#layout-overview");
          await page.click(cell("mac-mini-027"));
          await page.locator(`${card("mac-mini-027")}[data-opened]`).waitFor({ state: "visible" });
          assert.equal(await page.locator("#overview .ov-cell").count(), 0, "the overview keeps no cell once left");
        } finally {
          await stop();
        }
      },
    );
  });
}
