// The compact table of nodes for large fleets: one <tr> per node, kept per nodeId.

import { el, reconcile, setAttr, setHidden, setText, setVariant, setWidthPercent } from "./dom.js";
import { formatAgo, formatPercent, formatUsedTotal, levelOf, parseTime, percentOf } from "./format.js";
import { labelList } from "./fleet-model.js";
import { BAR_LEVEL, ONLINE_BADGE, STATUS_CHIP, statusTone } from "./theme.js";

const ROW = {
  online: "",
  offline: "opacity-60 grayscale",
};

export class NodeTable {
  constructor(body) {
    this.body = body;
    this.views = new Map();
  }

  update(items, now) {
    reconcile(this.body, this.views, items, (item) => item.node.nodeId, createRow, (view, item) => updateRow(view, item, now));
  }

  tick(now) {
    for (const view of this.views.values()) setText(view.lastSeen, formatAgo(now - view.lastSeenMs));
  }

  clear() {
    this.update([], 0);
  }
}

function miniMeter(name) {
  const text = el("span", { class: "tabular-nums whitespace-nowrap" });
  const bar = el("span", { class: "block h-full rounded-full" });
  const meter = el(
    "span",
    {
      class: "mt-1 block h-1 w-24 overflow-hidden rounded-full bg-slate-200 dark:bg-slate-700",
      role: "meter",
      "aria-label": name,
      "aria-valuemin": "0",
      "aria-valuemax": "100",
    },
    [bar],
  );
  return { cell: el("td", { class: "td", "data-field": name.toLowerCase() }, [text, meter]), text, bar, meter };
}

function setMini(m, percent, text) {
  setText(m.text, text);
  setWidthPercent(m.bar, percent);
  setVariant(m.bar, BAR_LEVEL, levelOf(percent));
  setAttr(m.meter, "aria-valuenow", Math.round(percent));
  setAttr(m.meter, "aria-valuetext", text);
}

function createRow(item) {
  const id = item.node.nodeId;
  const online = el("span", { class: "badge" });
  const drained = el("span", {
    class: "badge bg-amber-100 text-amber-900 dark:bg-amber-500/15 dark:text-amber-300",
    text: "draining",
    hidden: true,
  });
  const status = el("span", { class: "chip" });
  const lastSeen = el("time", { class: "tabular-nums whitespace-nowrap" });
  const cpu = miniMeter("CPU");
  const memory = miniMeter("Memory");
  const disk = miniMeter("Disk");
  const slots = el("td", { class: "td tabular-nums whitespace-nowrap", "data-field": "slots" });
  const vms = el("td", { class: "td max-w-72", "data-field": "vms" });
  const images = el("td", { class: "td max-w-72 font-mono text-xs break-all", "data-field": "images" });
  const labels = el("td", { class: "td max-w-56 font-mono text-xs break-all muted", "data-field": "labels" });
  const root = el("tr", { "data-node-id": id, class: "hover:bg-slate-50 dark:hover:bg-slate-800/40" }, [
    el("th", { scope: "row", class: "td font-mono font-semibold whitespace-nowrap", text: id }),
    el("td", { class: "td" }, [el("div", { class: "flex flex-wrap items-center gap-1" }, [online, drained, status])]),
    el("td", { class: "td" }, [lastSeen]),
    cpu.cell,
    memory.cell,
    disk.cell,
    slots,
    vms,
    images,
    labels,
  ]);
  return { root, online, drained, status, lastSeen, cpu, memory, disk, slots, vms, images, labels, lastSeenMs: NaN };
}

function updateRow(view, { node, vms }, now) {
  const state = node.isOnline ? "online" : "offline";
  view.root.dataset.online = String(node.isOnline);
  setVariant(view.root, ROW, state);
  setText(view.online, state);
  setVariant(view.online, ONLINE_BADGE, state);
  setHidden(view.drained, !node.drained);
  setText(view.status, node.status || "unknown");
  setVariant(view.status, STATUS_CHIP, statusTone(node.status));
  view.lastSeenMs = parseTime(node.lastSeen);
  setAttr(view.lastSeen, "datetime", node.lastSeen);
  setText(view.lastSeen, formatAgo(now - view.lastSeenMs));

  setMini(view.cpu, percentOf(node.cpuUsagePercent, 100), formatPercent(node.cpuUsagePercent));
  setMini(view.memory, percentOf(node.memoryUsageGB, node.totalMemoryGB), formatUsedTotal(node.memoryUsageGB, node.totalMemoryGB));
  setMini(view.disk, percentOf(node.diskUsageGB, node.totalDiskGB), formatUsedTotal(node.diskUsageGB, node.totalDiskGB));

  const maxVms = node.maxVms ?? 0;
  const used = Math.min(maxVms, (node.vmCount ?? 0) + (node.reservedSlots ?? 0));
  setText(view.slots, `${used} / ${maxVms}`);
  setText(view.vms, vms.length ? vms.map((vm) => `${vm.vmId} (${vm.state})`).join(", ") : "–");
  const inUse = new Set(vms.map((vm) => vm.imageName));
  const cached = node.cachedImages ?? [];
  setText(view.images, cached.length ? cached.map((image) => (inUse.has(image) ? `${image} ▶` : image)).join(", ") : "–");
  setText(view.labels, labelList(node.labels).join(", ") || "–");
}
