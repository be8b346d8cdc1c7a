// The card grid: one <article> per node, kept per nodeId and updated in place. With actions
// shown (the token's role may drain nodes) each card ends with its Drain or Undrain button.

import { el, reconcile, setAttr, setHidden, setText, setVariant, setWidthPercent } from "./dom.js";
import {
  formatAgo,
  formatPercent,
  formatRuntime,
  formatUsedTotal,
  levelOf,
  parseTime,
  percentOf,
} from "./format.js";
import { labelList } from "./fleet-model.js";
import {
  BAR_LEVEL,
  IMAGE_CHIP,
  ONLINE_BADGE,
  STATUS_CHIP,
  STATUS_REASON,
  stateBadge,
  statusTone,
  updateStateBadge,
} from "./theme.js";

const CARD = {
  online: "border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900",
  offline: "border-dashed border-slate-300 bg-slate-50 opacity-70 grayscale dark:border-slate-700 dark:bg-slate-900/50",
};


const SLOT_PIP = {
  used: "bg-sky-600 dark:bg-sky-500",
  reserved: "bg-sky-300 dark:bg-sky-400/45",
  free: "bg-slate-200 dark:bg-slate-700",
  closed: "bg-slate-300 dark:bg-slate-600",
};

export class NodeCards {
  // onDrain(nodeId, drained): a Promise, settled once the node is drained (or undrained) and shown.
  constructor(container, { onDrain }) {
    this.container = container;
    this.views = new Map();
    this.actions = false;
    handleDrainClicks(container, onDrain);
  }

  // items: [{node, vms}] in display order; now: the daemon's current time in ms.
  update(items, now) {
    reconcile(this.container, this.views, items, (item) => item.node.nodeId, createCard, (view, item) =>
      updateCard(view, item, now, this.actions),
    );
  }

  showActions(shown) {
    this.actions = shown;
    for (const view of this.views.values()) setHidden(view.actions, !shown);
  }

  // Advances "last seen" and runtimes between refreshes.
  tick(now) {
    for (const view of this.views.values()) tickCard(view, now);
  }

  clear() {
    this.update([], 0);
  }
}

function metric(name) {
  const value = el("span", { class: "text-sm font-medium tabular-nums", "data-field": `${name}-value` });
  const bar = el("span", { class: "block h-full rounded-full" });
  const meter = el(
    "div",
    {
      class: "mt-1 h-1.5 overflow-hidden rounded-full bg-slate-200 dark:bg-slate-700",
      role: "meter",
      "aria-label": name,
      "aria-valuemin": "0",
      "aria-valuemax": "100",
      "data-field": name,
    },
    [bar],
  );
  const root = el("div", { class: "min-w-0" }, [
    el("div", { class: "text-xs font-medium tracking-wide text-slate-500 uppercase dark:text-slate-400", text: name }),
    value,
    meter,
  ]);
  return { root, value, bar, meter };
}

function setMetric(m, percent, text) {
  setText(m.value, text);
  setWidthPercent(m.bar, percent);
  const level = levelOf(percent);
  setVariant(m.bar, BAR_LEVEL, level);
  setAttr(m.meter, "aria-valuenow", Math.round(percent));
  setAttr(m.meter, "aria-valuetext", text);
  setAttr(m.meter, "data-level", level);
}

function createCard(item) {
  const id = item.node.nodeId;
  const headingId = `node-${id}`;
  const name = el("h3", { class: "truncate font-mono text-base font-semibold", id: headingId, title: id, text: id });
  const online = el("span", { class: "badge", "data-field": "online" });
  const drained = el("span", {
    class: "badge bg-amber-100 text-amber-900 dark:bg-amber-500/15 dark:text-amber-300",
    "data-field": "drained",
    text: "draining",
    hidden: true,
  });
  const status = el("span", { class: "chip", "data-field": "status" });
  const statusReason = el("p", { class: "text-sm break-words", "data-field": "status-reason", hidden: true });
  const lastSeen = el("time", { class: "tabular-nums", "data-field": "last-seen" });
  const labels = el("ul", { class: "flex flex-wrap gap-1", "aria-label": "Labels", "data-field": "labels" });
  const cpu = metric("CPU");
  const memory = metric("Memory");
  const disk = metric("Disk");
  const slotText = el("span", { class: "text-sm font-medium tabular-nums", "data-field": "slots" });
  const pips = el("span", { class: "flex gap-1", "aria-hidden": "true" });
  const vmList = el("ul", { class: "flex flex-col gap-2", "data-field": "vms" });
  const noVms = el("p", { class: "text-sm muted", text: "No VMs", "data-field": "no-vms" });
  const images = el("ul", { class: "flex flex-wrap gap-1", "data-field": "images" });
  const noImages = el("p", { class: "text-sm muted", text: "None" });
  const drain = drainButton();
  const actions = el("footer", { class: "flex justify-end border-t border-slate-100 pt-3 dark:border-slate-800", hidden: true }, [drain]);

  const root = el(
    "article",
    { class: "flex min-w-0 flex-col gap-3 rounded-xl border p-4 shadow-xs", "aria-labelledby": headingId, "data-node-id": id },
    [
      el("header", { class: "flex flex-col gap-1.5" }, [
        el("div", { class: "flex items-center justify-between gap-2" }, [name, el("div", { class: "flex shrink-0 gap-1" }, [drained, online])]),
        el("p", { class: "flex flex-wrap items-center gap-x-2 gap-y-1 text-sm text-slate-600 dark:text-slate-300" }, [
          status,
          el("span", {}, ["Last seen ", lastSeen]),
        ]),
        statusReason,
        labels,
      ]),
      el("div", { class: "grid grid-cols-3 gap-3" }, [cpu.root, memory.root, disk.root]),
      el("div", { class: "flex items-center justify-between gap-2" }, [
        el("span", { class: "text-xs font-medium tracking-wide text-slate-500 uppercase dark:text-slate-400", text: "VM slots" }),
        el("span", { class: "flex items-center gap-2" }, [pips, slotText]),
      ]),
      el("section", { class: "flex flex-col gap-2", "aria-label": "VMs" }, [vmList, noVms]),
      el("section", { class: "mt-auto flex flex-col gap-1", "aria-label": "Cached images" }, [
        el("h4", { class: "text-xs font-medium tracking-wide text-slate-500 uppercase dark:text-slate-400", text: "Cached images" }),
        images,
        noImages,
      ]),
      actions,
    ],
  );
  return {
    root,
    online,
    drained,
    status,
    statusReason,
    lastSeen,
    labels,
    labelViews: new Map(),
    cpu,
    memory,
    disk,
    slotText,
    pips,
    vmList,
    vmViews: new Map(),
    noVms,
    images,
    imageViews: new Map(),
    noImages,
    actions,
    drain,
    lastSeenMs: NaN,
    runtimeBase: 0,
    isOnline: true,
  };
}

function updateCard(view, { node, vms }, now, actions) {
  const state = node.isOnline ? "online" : "offline";
  setAttr(view.root, "data-online", String(node.isOnline));
  view.isOnline = node.isOnline;
  setVariant(view.root, CARD, state);
  setText(view.online, state);
  setVariant(view.online, ONLINE_BADGE, state);
  setHidden(view.drained, !node.drained);
  setHidden(view.actions, !actions);
  updateDrainButton(view.drain, node.nodeId, node.drained);

  setText(view.status, node.status || "unknown");
  setVariant(view.status, STATUS_CHIP, statusTone(node.status));
  updateStatusReason(view.status, view.statusReason, node);
  view.lastSeenMs = parseTime(node.lastSeen);
  setAttr(view.lastSeen, "datetime", node.lastSeen);
  setAttr(view.lastSeen, "title", node.lastSeen);

  reconcile(view.labels, view.labelViews, labelList(node.labels), (label) => label, createLabel, () => {});

  setMetric(view.cpu, percentOf(node.cpuUsagePercent, 100), formatPercent(node.cpuUsagePercent));
  setMetric(view.memory, percentOf(node.memoryUsageGB, node.totalMemoryGB), formatUsedTotal(node.memoryUsageGB, node.totalMemoryGB));
  setMetric(view.disk, percentOf(node.diskUsageGB, node.totalDiskGB), formatUsedTotal(node.diskUsageGB, node.totalDiskGB));

  const maxVms = node.maxVms ?? 0;
  const reserved = node.reservedSlots ?? 0;
  const running = Math.min(node.vmCount ?? 0, maxVms);
  const used = Math.min(maxVms, running + reserved);
  setText(view.slotText, `${used} / ${maxVms}`);
  const pipStates = [];
  // One pip per slot while they fit on the line; beyond that the numbers say it.
  for (let i = 0; i < (maxVms <= 8 ? maxVms : 0); i++) {
    if (i < running) pipStates.push("used");
    else if (i < used) pipStates.push("reserved");
    else pipStates.push(node.acceptsVms ? "free" : "closed");
  }
  updatePips(view.pips, pipStates);

  view.runtimeBase = view.lastSeenMs;
  reconcile(view.vmList, view.vmViews, vms, (vm) => vm.vmId, createVmRow, (row, vm) => updateVmRow(row, vm));
  setHidden(view.noVms, vms.length > 0);

  const inUse = new Set(vms.map((vm) => vm.imageName));
  const cached = node.cachedImages ?? [];
  reconcile(view.images, view.imageViews, cached, (image) => image, createImageChip, (chip, image) =>
    updateImageChip(chip, inUse.has(image)),
  );
  setHidden(view.noImages, cached.length > 0);

  tickCard(view, now);
}

// Why the node is in its status, when its agent says: the chip's title, and a line of text
// (the table's line is cut to its column; its title holds the whole reason).
export function updateStatusReason(chip, line, node) {
  const reason = node.statusReason ?? "";
  setAttr(chip, "title", reason || null);
  setText(line, reason);
  setAttr(line, "title", reason || null);
  setHidden(line, !reason);
  setVariant(line, STATUS_REASON, statusTone(node.status));
}

function tickCard(view, now) {
  setText(view.lastSeen, formatAgo(now - view.lastSeenMs));
  // Heartbeats report runtimes as of lastSeen; an online node's VMs keep running since.
  const elapsed = view.isOnline && Number.isFinite(view.lastSeenMs) ? Math.max(0, (now - view.lastSeenMs) / 1000) : 0;
  for (const row of view.vmViews.values()) {
    if (row.runtimeSeconds == null) continue;
    setText(row.runtime, formatRuntime(row.runtimeSeconds + elapsed));
  }
}

function updatePips(container, states) {
  while (container.children.length > states.length) container.lastChild.remove();
  while (container.children.length < states.length) container.append(el("span", { class: "inline-block h-3 w-5 rounded-sm" }));
  states.forEach((state, i) => {
    setVariant(container.children[i], SLOT_PIP, state);
    setAttr(container.children[i], "data-slot", state);
  });
}

function createLabel(label) {
  return {
    root: el("li", {
      class: "chip bg-slate-100 text-slate-600 dark:bg-slate-800 dark:text-slate-300",
      text: label,
    }),
  };
}

function createImageChip(image) {
  const marker = el("span", { class: "sr-only", text: " (in use)" });
  const root = el("li", { class: "chip break-all", title: image }, [image, marker]);
  return { root, marker };
}

function updateImageChip(chip, inUse) {
  setAttr(chip.root, "data-in-use", String(inUse));
  setVariant(chip.root, IMAGE_CHIP, inUse ? "inUse" : "idle");
  setHidden(chip.marker, !inUse);
}

function createVmRow(vm) {
  const badge = stateBadge(vm.state);
  const runtime = el("span", { class: "ml-auto shrink-0 text-sm tabular-nums", "data-field": "runtime" });
  const image = el("p", { class: "truncate", "data-field": "image" });
  const hostname = el("span", { class: "truncate", "data-field": "hostname" });
  const ip = el("span", { class: "font-mono", "data-field": "ip" });
  const host = el("p", { class: "flex min-w-0 gap-3" }, [hostname, ip]);
  const note = el("p", { class: "truncate", "data-field": "note" });
  const root = el("li", { class: "rounded-lg bg-slate-50 px-2.5 py-2 dark:bg-slate-800/60", "data-vm-id": vm.vmId }, [
    el("div", { class: "flex items-center gap-2" }, [
      badge,
      el("span", { class: "truncate font-mono text-sm font-medium", title: vm.vmId, text: vm.vmId }),
      runtime,
    ]),
    el("div", { class: "mt-1 flex min-w-0 flex-col gap-0.5 text-xs text-slate-600 dark:text-slate-300" }, [image, host, note]),
  ]);
  return { root, badge, runtime, image, host, hostname, ip, note, runtimeSeconds: undefined };
}

function updateVmRow(row, vm) {
  updateStateBadge(row.badge, vm.state);
  setText(row.image, vm.imageName);
  setAttr(row.image, "title", vm.imageName);
  setText(row.hostname, vm.vmHostname);
  setHidden(row.hostname, !vm.vmHostname);
  setText(row.ip, vm.vmIpAddress);
  setHidden(row.ip, !vm.vmIpAddress);
  setHidden(row.host, !vm.vmHostname && !vm.vmIpAddress);
  row.runtimeSeconds = Number.isFinite(vm.runtimeSeconds) ? vm.runtimeSeconds : undefined;
  if (row.runtimeSeconds == null) setText(row.runtime, "");
  let note = "";
  if (Number.isFinite(vm.progress) && vm.state === "provisioning") note = `${Math.round(vm.progress * 100)}%`;
  if (vm.message && !vm.reported) note = note ? `${note} · ${vm.message}` : vm.message;
  setText(row.note, note);
  setHidden(row.note, !note);
}

// The button that drains a node, or undrains it when drained; its clicks are handled by
// handleDrainClicks on the container of the nodes.
export function drainButton() {
  return el("button", { type: "button", class: "button px-2.5 py-1 text-xs", "data-node-action": "" });
}

export function updateDrainButton(button, nodeId, drained) {
  const action = drained ? "undrain" : "drain";
  if (button.dataset.nodeAction === action) return;
  button.dataset.nodeAction = action;
  setText(button, drained ? "Undrain" : "Drain");
  setAttr(button, "aria-label", `${drained ? "Undrain" : "Drain"} ${nodeId}`);
  setAttr(button, "title", drained ? "Let the Mac take new VMs again" : "No new VMs on this Mac; its VMs run to the end");
}

// Calls onDrain(nodeId, drained) for a click on a Drain or Undrain button inside `container`
// (in the element of its node, which carries data-node-id); the button stays disabled until
// the Promise onDrain returns settles.
export function handleDrainClicks(container, onDrain) {
  container.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-node-action]");
    const node = button?.closest("[data-node-id]");
    if (!node || button.disabled) return;
    button.disabled = true;
    setAttr(button, "aria-busy", "true");
    try {
      await onDrain(node.dataset.nodeId, button.dataset.nodeAction === "drain");
    } finally {
      button.disabled = false;
      setAttr(button, "aria-busy", false);
    }
  });
}
