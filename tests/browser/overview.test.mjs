// The overview: one cell per Mac, coloured by its state and slots in use, grouped by a label
// key, with a tooltip for the pointer and the keyboard; a click or Enter opens the Mac's card.
import assert from "node:assert/strict";
import { test } from "node:test";
import { axeViolations } from "./lib/axe.mjs";
import { screenshot } from "./lib/browser.mjs";
import { heartbeatOf, keepAlive, populate } from "./lib/fleet.mjs";
import { card, text, useBrowser, withDashboard } from "./lib/harness.mjs";

useBrowser();

// What the overview shows, read from the page: per group its name, its Macs in order (by name,
// as the test sorts them) and, for each, the colour of its cell on the canvas; the legend's
// colours drawn the same way.
async function shownCells(page, nodes) {
  return page.evaluate((ids) => {
    const paint = (colour) => {
      const scratch = document.createElement("canvas").getContext("2d");
      scratch.fillStyle = colour;
      scratch.fillRect(0, 0, 1, 1);
      return [...scratch.getImageData(0, 0, 1, 1).data].join(",");
    };
    const legend = Object.fromEntries(
      [...document.querySelectorAll("#overview-legend [data-legend]")].map((li) => [li.dataset.legend, paint(getComputedStyle(li.querySelector(".ov-swatch")).backgroundColor)]),
    );
    const ratio = window.devicePixelRatio;
    const groups = [...document.querySelectorAll("#overview-groups > section")].map((section) => {
      const canvas = section.querySelector("canvas");
      const columns = Number(canvas.dataset.columns);
      const pitch = Number(canvas.dataset.pitch);
      const context = canvas.getContext("2d");
      return { group: section.dataset.group, count: Number(canvas.dataset.cells), columns, pitch, colourAt: (i) => [...context.getImageData(((i % columns) * pitch + 2) * ratio, (Math.floor(i / columns) * pitch + 2) * ratio, 1, 1).data].join(",") };
    });
    return { legend, groups: groups.map((g) => ({ group: g.group, count: g.count, columns: g.columns, pitch: g.pitch, colours: Array.from({ length: g.count }, (_, i) => g.colourAt(i)) })) };
  }, nodes.map((n) => n.nodeId));
}

// The middle of cell `index` of the group `name`, in the page's coordinates.
async function cellPoint(page, name, index) {
  return page.evaluate(
    ([group, i]) => {
      const canvas = document.querySelector(`#overview-groups > section[data-group="${group}"] canvas`);
      const columns = Number(canvas.dataset.columns);
      const pitch = Number(canvas.dataset.pitch);
      const box = canvas.getBoundingClientRect();
      return { x: box.left + (i % columns) * pitch + 3, y: box.top + Math.floor(i / columns) * pitch + 3 };
    },
    [name, index],
  );
}

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
          await page.waitForFunction(() => document.querySelector('#overview-legend [data-legend="offline"] [data-field="count"]')?.textContent === "2", undefined, { timeout: 20_000 });
          await page.click("#refresh-now");
          await page.waitForFunction(() => !document.querySelector("#refresh-now").hasAttribute("aria-busy"));
          const nodes = (await listNodes(daemon)).sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));
          assert.equal(await page.locator("#node-grid > article").count(), 0, "no cards kept meanwhile");

          // One cell per Mac, in the colour of its state; the legend counts them.
          let shown = await shownCells(page, nodes);
          assert.equal(shown.groups.length, 1);
          assert.equal(shown.groups[0].count, nodes.length, "one cell per Mac");
          assert.equal(new Set(Object.values(shown.legend)).size, 6, "each state its own colour");
          const expected = nodes.map(expectedState);
          for (const state of ["offline", "draining", "degraded", "free", "full"]) assert.ok(expected.includes(state), `a ${state} Mac is shown`);
          nodes.forEach((node, i) => assert.equal(shown.groups[0].colours[i], shown.legend[expected[i]], `${node.nodeId} is ${expected[i]}`));
          for (const state of Object.keys(shown.legend)) {
            assert.equal(await text(page, `#overview-legend [data-legend="${state}"] [data-field="count"]`), String(expected.filter((e) => e === state).length), state);
          }

          // Pointing at a cell shows its Mac in the tooltip.
          const degraded = nodes.findIndex((n) => n.nodeId === "mac-mini-005");
          const point = await cellPoint(page, "", degraded);
          await page.mouse.move(point.x, point.y);
          await page.locator("#overview-tip").waitFor({ state: "visible" });
          const tip = await text(page, "#overview-tip");
          assert.match(tip, /mac-mini-005/);
          assert.match(tip, /degraded: a ghost VM holds a slot/);
          assert.deepEqual(await axeViolations(page), [], "the overview with its tooltip");
          await screenshot(page, `overview-${colorScheme}`);

          // Grouped by chip: one group per chip, each with the Macs that carry it.
          await page.selectOption("#overview-group", "chip");
          await page.waitForSelector('#overview-groups section[data-group^="chip="]');
          assert.match(page.url(), /group=chip/);
          shown = await shownCells(page, nodes);
          const chips = [...new Set(nodes.map((node) => `chip=${node.labels.chip}`))].sort();
          assert.deepEqual(shown.groups.map((g) => g.group), chips);
          for (const group of shown.groups) {
            const members = nodes.filter((n) => `chip=${n.labels.chip}` === group.group);
            assert.equal(group.count, members.length, group.group);
            members.forEach((node, i) => assert.equal(group.colours[i], shown.legend[expectedState(node)], `${group.group}: ${node.nodeId}`));
          }
          assert.deepEqual(await axeViolations(page), [], "the overview grouped");

          // A filter dims the Macs it leaves out (drawn faint); the map keeps every cell.
          const first = shown.groups[0];
          const members = nodes.filter((n) => `chip=${n.labels.chip}` === first.group);
          await page.fill("#filter-text", members[0].nodeId);
          await page.waitForFunction(() => document.querySelector("#nodes-shown")?.textContent.startsWith("Showing 1 of"));
          const filtered = await shownCells(page, nodes);
          const group = filtered.groups.find((g) => g.group === first.group);
          assert.equal(group.count, members.length);
          assert.equal(group.colours[0], shown.legend[expectedState(members[0])], "the Mac found keeps its colour");
          if (members.length > 1) assert.notEqual(group.colours[1], first.colours[1], "the others are faint");
          await page.fill("#filter-text", "");

          // The keyboard: a group is one stop, the arrows move its option, Enter opens the card.
          const list = `#overview-groups > section[data-group="${first.group}"] [role="listbox"]`;
          await page.focus(list);
          await page.keyboard.press("ArrowRight");
          const option = await page.evaluate((selector) => {
            const box = document.querySelector(selector);
            const active = document.getElementById(box.getAttribute("aria-activedescendant"));
            return { id: active.dataset.nodeId, label: active.getAttribute("aria-label"), place: active.getAttribute("aria-posinset"), of: active.getAttribute("aria-setsize") };
          }, list);
          assert.equal(option.id, members[1].nodeId);
          assert.match(option.label, new RegExp(`^${members[1].nodeId}: [a-z ]+, \\d of \\d slots in use$`));
          assert.deepEqual([option.place, option.of], ["2", String(members.length)]);
          assert.match(await text(page, "#overview-tip"), new RegExp(members[1].nodeId));
          await page.keyboard.press("Enter");
          await page.locator(`${card(members[1].nodeId)}[data-opened]`).waitFor();
          assert.equal(await page.evaluate(() => document.activeElement.dataset.nodeId), members[1].nodeId, "the card has the focus");
          assert.doesNotMatch(page.url(), /layout=overview/);

          // A click on a cell opens that Mac, scrolled to.
          await page.click("#layout-overview");
          const last = members.at(-1);
          const at = await cellPoint(page, first.group, members.length - 1);
          await page.mouse.click(at.x, at.y);
          await page.locator(`${card(last.nodeId)}[data-opened]`).waitFor({ state: "visible" });
          assert.equal(await page.locator("#overview canvas").count(), 0, "the overview keeps nothing once left");
        } finally {
          await stop();
        }
      },
    );
  });
}
