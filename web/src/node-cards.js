// The card grid: one <article> per node, kept per nodeId and updated in place. With actions
// shown (the token's role may drain nodes) each card ends with its Drain or Undrain button.

import { drainButton } from "./controls.js";
import { el, reconcile, setAttr, setHidden, setText, setVariant } from "./dom.js";
import { formatAgo, formatPercent, formatRuntime, formatUsedTotal, parseTime, percentOf } from "./format.js";
import { labelList } from "./fleet-model.js";
import { NodeList, createImageChip, createMeter, drainedBadge, setMeter, updateImageChip, updateNodeState } from "./node-parts.js";
import { stateBadge, updateStateBadge } from "./theme.js";

const CARD = {
  online: "border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900",
  offline: "border-dashed border-slate-400 bg-slate-50 grayscale dark:border-slate-600 dark:bg-slate-900/50",
};

const SLOT_PIP = {
  used: "bg-sky-600 dark:bg-sky-500",
  reserved: "bg-sky-300 dark:bg-sky-400/45",
  free: "bg-slate-200 dark:bg-slate-700",
  closed: "bg-slate-300 dark:bg-slate-600",
};

// A card stands for a line of the grid when out of view; its height before it was measured.
const CARD_HEIGHT = 340;

export class NodeCards extends NodeList {
  constructor(container, { onDrain }) {
    super(container, {
      onDrain,
      create: createCard,
      update: updateCard,
      spacer: () => el("div", { class: "col-span-full", "aria-hidden": "true", "data-spacer": "" }),
      estimate: CARD_HEIGHT,
      grid: true,
    });
  }

  // Advances offline nodes' "last seen" and runtimes between refreshes, on the cards shown.
  tick(now) {
    for (const view of this.shown()) tickCard(view, now);
  }
}

function metric(name) {
  const text = el("span", { class: "text-sm font-medium tabular-nums", "data-field": `${name}-value` });
  const { bar, meter } = createMeter(name, "div", "mt-1 h-1.5 overflow-hidden rounded-full bg-slate-200 dark:bg-slate-700", name);
  const root = el("div", { class: "min-w-0" }, [
    el("div", { class: "text-xs font-medium tracking-wide text-slate-500 uppercase dark:text-slate-400", text: name }),
    text,
    meter,
  ]);
  return { root, text, bar, meter };
}

function createCard(item) {
  const id = item.node.nodeId;
  const headingId = `node-${id}`;
  const name = el("h3", { class: "truncate font-mono text-base font-semibold", id: headingId, title: id, text: id });
  const online = el("span", { class: "badge", "data-field": "online" });
  const drained = drainedBadge();
  const status = el("span", { class: "chip", "data-field": "status" });
  const statusReason = el("p", { class: "text-sm break-words", "data-field": "status-reason", hidden: true });
  const lastSeen = el("time", { class: "tabular-nums", "data-field": "last-seen" });
  // Only an offline node says when it was last seen: an online one reports all the time.
  const lastSeenLine = el("span", { "data-field": "last-seen-line", hidden: true }, ["Last seen ", lastSeen]);
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
          lastSeenLine,
        ]),
        statusReason,
        labels,
      ]),
      el("div", { class: "grid grid-cols-3 gap-3" }, [cpu.root, memory.root, disk.root]),
      el("div", { class: "flex items-center justify-between gap-2" }, [
        el("span", { class: "text-xs font-medium tracking-wide text-slate-500 uppercase dark:text-slate-400", text: "VM slots" }),
        el("span", { class: "flex items-center gap-2" }, [pips, slotText]),
      ]),
      el("section", { class: "flex flex-col gap-2", "aria-label": `VMs of ${id}` }, [vmList, noVms]),
      el("section", { class: "mt-auto flex flex-col gap-1", "aria-label": `Cached images of ${id}` }, [
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
    lastSeenLine,
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
  updateNodeState(view, node, actions);
  view.isOnline = node.isOnline;
  setVariant(view.root, CARD, node.isOnline ? "online" : "offline");
  view.lastSeenMs = parseTime(node.lastSeen);
  setAttr(view.lastSeen, "datetime", node.lastSeen);
  setAttr(view.lastSeen, "title", node.lastSeen);
  setHidden(view.lastSeenLine, node.isOnline);

  reconcile(view.labels, view.labelViews, labelList(node.labels), (label) => label, createLabel, () => {});

  setMeter(view.cpu, percentOf(node.cpuUsagePercent, 100), formatPercent(node.cpuUsagePercent));
  setMeter(view.memory, percentOf(node.memoryUsageGB, node.totalMemoryGB), formatUsedTotal(node.memoryUsageGB, node.totalMemoryGB));
  setMeter(view.disk, percentOf(node.diskUsageGB, node.totalDiskGB), formatUsedTotal(node.diskUsageGB, node.totalDiskGB));

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
  const createChip = (image) => createImageChip(image, image, "chip break-all");
  reconcile(view.images, view.imageViews, cached, (image) => image, createChip, (chip, image) =>
    updateImageChip(chip, inUse.has(image)),
  );
  setHidden(view.noImages, cached.length > 0);

  tickCard(view, now);
}

function tickCard(view, now) {
  if (!view.isOnline) setText(view.lastSeen, formatAgo(now - view.lastSeenMs));
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
