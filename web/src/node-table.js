// The compact table of nodes for large fleets: one <tr> per node, kept per nodeId. With
// actions shown (the token's role may drain nodes) the last column holds Drain or Undrain.

import { drainButton } from "./controls.js";
import { el, reconcile, setAttr, setHidden, setText, setVariant } from "./dom.js";
import { formatAgo, formatPercent, formatUsedTotal, parseTime, percentOf, shortImageName } from "./format.js";
import { labelList } from "./fleet-model.js";
import { NodeList, createImageChip, createMeter, drainedBadge, setMeter, updateImageChip, updateNodeState } from "./node-parts.js";
import { VM_STATE_DOT } from "./theme.js";

const ROW = {
  online: "",
  offline: "grayscale",
};

// A row stands for itself when out of view; its height before it was measured.
const ROW_HEIGHT = 58;

export class NodeTable extends NodeList {
  // onDrain as for NodeList; actionsHead: the header cell of the actions column.
  constructor(body, { onDrain, actionsHead }) {
    super(body, {
      onDrain,
      create: createRow,
      update: updateRow,
      spacer: () => el("tr", { "aria-hidden": "true", "data-spacer": "" }, [el("td", { colspan: "11" })]),
      estimate: ROW_HEIGHT,
    });
    this.actionsHead = actionsHead;
  }

  showActions(shown) {
    super.showActions(shown);
    setHidden(this.actionsHead, !shown);
  }

  tick(now) {
    for (const view of this.shown()) if (!view.isOnline) setText(view.lastSeen, formatAgo(now - view.lastSeenMs));
  }
}

function miniMeter(name) {
  const text = el("span", { class: "tabular-nums whitespace-nowrap" });
  const { bar, meter } = createMeter(name, "span", "mt-1 block h-1 w-24 overflow-hidden rounded-full bg-slate-200 dark:bg-slate-700");
  return { cell: el("td", { class: "td", "data-field": name.toLowerCase() }, [text, meter]), text, bar, meter };
}

function createRow(item) {
  const id = item.node.nodeId;
  const online = el("span", { class: "badge" });
  const drained = drainedBadge();
  const status = el("span", { class: "chip", "data-field": "status" });
  const statusReason = el("p", { class: "mt-1 max-w-56 truncate text-xs", "data-field": "status-reason", hidden: true });
  const lastSeen = el("time", { class: "tabular-nums whitespace-nowrap" });
  const cpu = miniMeter("CPU");
  const memory = miniMeter("Memory");
  const disk = miniMeter("Disk");
  const slots = el("td", { class: "td tabular-nums whitespace-nowrap", "data-field": "slots" });
  const vmList = el("ul", { class: "flex flex-col gap-0.5" });
  const vms = el("td", { class: "td", "data-field": "vms" }, [vmList]);
  const imageList = el("ul", { class: "flex max-w-80 flex-wrap gap-1" });
  const images = el("td", { class: "td", "data-field": "images" }, [imageList]);
  const labels = el("td", { class: "td max-w-56 font-mono text-xs muted", "data-field": "labels" });
  const drain = drainButton();
  const actions = el("td", { class: "td", "data-field": "actions", hidden: true }, [drain]);
  const root = el("tr", { "data-node-id": id, class: "hover:bg-slate-50 dark:hover:bg-slate-800/40" }, [
    el("th", { scope: "row", class: "td font-mono font-semibold whitespace-nowrap", text: id }),
    el("td", { class: "td" }, [el("div", { class: "flex flex-wrap items-center gap-1" }, [online, drained, status]), statusReason]),
    el("td", { class: "td" }, [lastSeen]),
    cpu.cell,
    memory.cell,
    disk.cell,
    slots,
    vms,
    images,
    labels,
    actions,
  ]);
  return { root, online, drained, status, statusReason, lastSeen, cpu, memory, disk, slots, vmList, vmViews: new Map(), imageList, imageViews: new Map(), labels, actions, drain, lastSeenMs: NaN };
}

function updateRow(view, { node, vms }, now, actions) {
  updateNodeState(view, node, actions);
  setVariant(view.root, ROW, node.isOnline ? "online" : "offline");
  view.lastSeenMs = parseTime(node.lastSeen);
  setAttr(view.lastSeen, "datetime", node.lastSeen);
  view.isOnline = node.isOnline;
  // Only an offline node says when it was last seen: an online one reports all the time.
  setText(view.lastSeen, node.isOnline ? "–" : formatAgo(now - view.lastSeenMs));

  setMeter(view.cpu, percentOf(node.cpuUsagePercent, 100), formatPercent(node.cpuUsagePercent));
  setMeter(view.memory, percentOf(node.memoryUsageGB, node.totalMemoryGB), formatUsedTotal(node.memoryUsageGB, node.totalMemoryGB));
  setMeter(view.disk, percentOf(node.diskUsageGB, node.totalDiskGB), formatUsedTotal(node.diskUsageGB, node.totalDiskGB));

  const maxVms = node.maxVms ?? 0;
  const used = Math.min(maxVms, (node.vmCount ?? 0) + (node.reservedSlots ?? 0));
  setText(view.slots, `${used} / ${maxVms}`);
  reconcile(view.vmList, view.vmViews, vms, (vm) => vm.vmId, createVmItem, updateVmItem);
  const inUse = new Set(vms.map((vm) => vm.imageName));
  const createChip = (image) => createImageChip(image, shortImageName(image));
  reconcile(view.imageList, view.imageViews, node.cachedImages ?? [], (image) => image, createChip, (chip, image) =>
    updateImageChip(chip, inUse.has(image)),
  );
  setText(view.labels, labelList(node.labels).join(" ") || "–");
}

function createVmItem(vm) {
  const dot = el("span", { class: "inline-block size-2 shrink-0 rounded-full", "aria-hidden": "true" });
  const state = el("span", { class: "muted" });
  const root = el("li", { class: "flex items-center gap-1.5 whitespace-nowrap", "data-vm-id": vm.vmId }, [
    dot,
    el("span", { class: "font-mono", text: vm.vmId }),
    state,
  ]);
  return { root, dot, state };
}

function updateVmItem(item, vm) {
  setVariant(item.dot, VM_STATE_DOT, vm.state in VM_STATE_DOT ? vm.state : "unknown");
  setText(item.state, vm.state);
  setAttr(item.root, "data-state", vm.state);
}
