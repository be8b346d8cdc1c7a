// The VMs view: every VM record (filterable by state), the placement queue with why each VM
// waits, and the images VMs are made of: how many Macs hold each, how many should, the pulls
// under way and the demand (GET /api/images; the section is hidden from a daemon without it).

import { StateFilter } from "./controls.js";
import { el, reconcile, setAttr, setHidden, setText, setVariant } from "./dom.js";
import { formatAge, formatPercent, formatRate, formatRuntime, parseTime, plural } from "./format.js";
import { labelList, pendingReasonText, tenantShareText, vmMatches, vmMessage, vmTenancy } from "./fleet-model.js";
import { VM_STATE_DOT, VM_STATES, stateBadge, updateStateBadge } from "./theme.js";
import { VirtualList } from "./virtual-list.js";

const REASON = {
  failure: "text-rose-700 dark:text-rose-300",
  waiting: "text-amber-900 dark:text-amber-300",
  message: "text-slate-600 dark:text-slate-300",
};

// An image held by fewer Macs than its target stands out.
const HOLDERS = {
  enough: "",
  short: "font-semibold text-amber-800 dark:text-amber-300",
};

// A VM record's row stands for itself when out of view; its height before it was measured.
const VM_ROW_HEIGHT = 40;

export class VmView {
  // onStateChosen(state): the operator picked a state filter ("" for all).
  constructor(root, { onStateChosen }) {
    this.stateFilter = new StateFilter(root.querySelector("#vm-state-filter"), {
      states: VM_STATES,
      dots: VM_STATE_DOT,
      onChosen: onStateChosen,
    });
    this.store = undefined;
    this.now = 0;
    // The records on screen only: a fleet of 10,000 Macs has as many VMs.
    this.rows = new VirtualList(root.querySelector("#vm-rows"), {
      spacer: () => el("tr", { "aria-hidden": "true", "data-spacer": "" }, [el("td", { colspan: "8" })]),
      estimate: VM_ROW_HEIGHT,
      create: (id) => createVmRow(this.store.vms.get(id)),
      update: (row, id) => updateVmRow(row, this.store.vms.get(id), this.now),
    });
    this.noMatch = root.querySelector("#no-vm-match");
    this.shown = root.querySelector("#vms-shown");
    this.queueList = root.querySelector("#queue-list");
    this.queueViews = new Map();
    this.queueEmpty = root.querySelector("#queue-empty");
    this.queueCount = root.querySelector("#queue-count");
    this.images = new ImageTable(root.querySelector("#images-section"));
  }

  // store: the FleetStore; images: GET /api/images; null or undefined (a daemon without it, or
  // not read yet) hides the Images section.
  update(store, view, now, images) {
    const all = store.vmList();
    const matching = all.filter((record) => vmMatches(record, store.nodes, view, { ignoreState: true }));
    this.stateFilter.update(matching, view.vmState);

    const shown = view.vmState ? matching.filter((record) => record.state === view.vmState) : matching;
    this.store = store;
    this.now = now;
    this.rows.show(shown.map((record) => record.vmId));
    setText(this.shown, shown.length === all.length ? `(${shown.length})` : `(${shown.length} of ${all.length})`);
    setHidden(this.noMatch, shown.length > 0);
    setText(this.noMatch, all.length === 0 ? "No VM has been placed or reported yet." : "No VM matches the filter.");

    reconcile(this.queueList, this.queueViews, store.queue, (record) => record.vmId, createQueueItem, (item, record) =>
      updateQueueItem(item, record, now),
    );
    // The daemon's position (placement order), else the order of the list.
    store.queue.forEach((record, i) =>
      setText(this.queueViews.get(record.vmId).position, `${Number.isFinite(record.position) ? record.position : i + 1}`),
    );
    setHidden(this.queueEmpty, store.queue.length > 0);
    setText(this.queueCount, store.queue.length ? `(${store.queue.length})` : "");
    this.images.update(images);
  }

  tick(now) {
    for (const row of this.rows.shown()) setText(row.age, formatAge(now - row.createdMs));
    for (const item of this.queueViews.values()) setText(item.waiting, `waiting ${formatAge(now - item.createdMs)}`);
  }
}

function createVmRow(record) {
  const badge = stateBadge(record.state);
  const node = el("td", { class: "td font-mono whitespace-nowrap", "data-field": "node" });
  const image = el("span", { class: "break-all" });
  const cached = el("span", { class: "ml-1 text-xs muted" });
  const age = el("td", { class: "td tabular-nums whitespace-nowrap", "data-field": "age" });
  const runtime = el("td", { class: "td tabular-nums whitespace-nowrap", "data-field": "runtime" });
  const attempts = el("td", { class: "td tabular-nums", "data-field": "attempts" });
  const reason = el("td", { class: "td max-w-md break-words", "data-field": "reason" });
  const tenancy = el("p", { class: "font-sans text-xs font-normal muted", "data-field": "tenancy" });
  const root = el("tr", { "data-vm-id": record.vmId, class: "hover:bg-slate-50 dark:hover:bg-slate-800/40" }, [
    el("th", { scope: "row", class: "td font-mono font-medium whitespace-nowrap" }, [el("span", { "data-field": "vm-id", text: record.vmId }), tenancy]),
    el("td", { class: "td" }, [badge]),
    node,
    el("td", { class: "td font-mono text-xs", "data-field": "image" }, [image, cached]),
    age,
    runtime,
    attempts,
    reason,
  ]);
  return { root, badge, node, image, cached, age, runtime, attempts, reason, tenancy, createdMs: NaN };
}

function updateVmRow(row, record, now) {
  updateStateBadge(row.badge, record.state);
  setAttr(row.root, "data-state", record.state);
  setText(row.node, record.nodeId ?? "–");
  setText(row.image, record.imageName);
  setText(row.cached, record.managed && record.nodeId && !record.imageCached ? "(download)" : "");
  row.createdMs = parseTime(record.createdAt);
  setText(row.age, formatAge(now - row.createdMs));
  setText(row.runtime, Number.isFinite(record.runtimeSeconds) ? formatRuntime(record.runtimeSeconds) : "–");
  setText(row.attempts, record.managed ? record.attempts : "–");
  const tenancy = vmTenancy(record);
  setText(row.tenancy, tenancy);
  setHidden(row.tenancy, !tenancy);
  const failure = record.failureReason;
  // A pending VM says why it waits (and the agent's last message, if it left one).
  const waiting = record.state === "pending" ? pendingReasonText(record.pendingReason, record.tenant) : "";
  let text = failure || [waiting, vmMessage(record)].filter(Boolean).join(" · ");
  if (!failure && Number.isFinite(record.progress) && record.state === "provisioning") {
    text = `${Math.round(record.progress * 100)}%${text ? ` · ${text}` : ""}`;
  }
  setText(row.reason, text);
  setAttr(row.reason, "data-code", waiting ? record.pendingReason.code : false);
  setVariant(row.reason, REASON, failure ? "failure" : waiting ? "waiting" : "message");
}

function createQueueItem(record) {
  const position = el("span", {
    class: "flex size-7 shrink-0 items-center justify-center rounded-full bg-amber-100 text-sm font-semibold tabular-nums text-amber-900 dark:bg-amber-500/20 dark:text-amber-200",
  });
  const image = el("p", { class: "font-mono text-xs break-all text-slate-600 dark:text-slate-300", "data-field": "image" });
  const labels = el("p", { class: "font-mono text-xs muted", "data-field": "labels" });
  const waiting = el("span", { class: "ml-auto shrink-0 text-xs tabular-nums muted", "data-field": "waiting" });
  const reason = el("p", { class: "mt-1 text-sm text-amber-900 dark:text-amber-300", "data-field": "pending-reason" });
  const tenancy = el("p", { class: "text-xs muted", "data-field": "tenancy" });
  const root = el("li", { class: "flex items-start gap-3 px-4 py-3", "data-vm-id": record.vmId }, [
    position,
    el("div", { class: "min-w-0 flex-1" }, [
      el("div", { class: "flex items-center gap-2" }, [
        el("span", { class: "truncate font-mono text-sm font-medium", "data-field": "vm-id", text: record.vmId }),
        waiting,
      ]),
      image,
      labels,
      tenancy,
      reason,
    ]),
  ]);
  return { root, position, image, labels, waiting, reason, tenancy, createdMs: NaN };
}

function updateQueueItem(item, record, now) {
  setText(item.image, record.imageName);
  const labels = labelList(record.labels);
  setText(item.labels, labels.length ? `needs ${labels.join(", ")}` : "");
  setHidden(item.labels, labels.length === 0);
  // What its tenant (or the VMs without one) holds, which the fair share weighs.
  const share = tenantShareText(record.tenantShare);
  const holder = record.tenant ? "its tenant" : "without a tenant";
  const tenancy = [vmTenancy(record, { priority: true }), share && `${holder}: ${share}`].filter(Boolean).join(" · ");
  setText(item.tenancy, tenancy);
  setHidden(item.tenancy, !tenancy);
  const reason = pendingReasonText(record.pendingReason, record.tenant);
  setText(item.reason, reason);
  setHidden(item.reason, !reason);
  setAttr(item.reason, "data-code", reason ? record.pendingReason.code : false);
  item.createdMs = parseTime(record.createdAt);
  setText(item.waiting, `waiting ${formatAge(now - item.createdMs)}`);
}

// The Images section: one row per image, in the daemon's order (the most demanded first).
class ImageTable {
  constructor(root) {
    this.root = root;
    this.body = root.querySelector("#image-rows");
    this.rowViews = new Map();
    this.empty = root.querySelector("#no-images");
    this.pulls = root.querySelector("#image-pulls");
  }

  update(answer) {
    const offered = Boolean(answer && typeof answer === "object");
    setHidden(this.root, !offered);
    const images = offered && Array.isArray(answer.images) ? answer.images : [];
    reconcile(this.body, this.rowViews, images, (image) => image.imageName, createImageRow, updateImageRow);
    setHidden(this.empty, images.length > 0);
    setText(this.pulls, offered ? pullsText(answer) : "");
  }
}

function createImageRow(image) {
  const cell = (field) => el("td", { class: "td tabular-nums whitespace-nowrap", "data-field": field });
  const pinned = el("span", { class: "badge bg-sky-100 text-sky-800 dark:bg-sky-500/15 dark:text-sky-300", "data-field": "pinned" });
  const holders = el("span", { "data-field": "holders" });
  const target = el("span", { "data-field": "target" });
  const hosts = el("td", { class: "td tabular-nums whitespace-nowrap", "data-field": "hosts" }, [holders, " / ", target]);
  const pulling = cell("pulling");
  const demand = el("span", { "data-field": "demand" });
  const peak = el("p", { class: "text-xs muted", "data-field": "peak" });
  const queued = el("span", { "data-field": "queued" });
  const pool = el("p", { class: "text-xs muted", "data-field": "pool" });
  const share = el("span", { "data-field": "cached-share" });
  const placements = el("span", { class: "ml-1 text-xs muted", "data-field": "placements" });
  const meanPull = cell("mean-pull");
  const root = el("tr", { "data-image": image.imageName, class: "hover:bg-slate-50 dark:hover:bg-slate-800/40" }, [
    el("th", { scope: "row", class: "td text-left font-normal" }, [
      el("div", { class: "flex flex-wrap items-center gap-2" }, [
        el("span", { class: "font-mono text-xs break-all", "data-field": "image", text: image.imageName }),
        pinned,
      ]),
    ]),
    hosts,
    pulling,
    el("td", { class: "td tabular-nums whitespace-nowrap" }, [demand, peak]),
    el("td", { class: "td tabular-nums whitespace-nowrap" }, [queued, pool]),
    el("td", { class: "td tabular-nums whitespace-nowrap" }, [share, placements]),
    meanPull,
  ]);
  return { root, pinned, hosts, holders, target, pulling, demand, peak, queued, pool, share, placements, meanPull };
}

// "1 of at most 4 pulls under way · 12 pulled ahead of demand, 1 failed".
function pullsText(answer) {
  if (!Number.isFinite(answer.pullsInFlight) || !Number.isFinite(answer.maxConcurrentPulls)) return "";
  let text = `${answer.pullsInFlight} of at most ${plural(answer.maxConcurrentPulls, "pull")} under way`;
  const ahead = answer.pullsAheadOfDemand;
  if (ahead && Number.isFinite(ahead.finished) && (ahead.finished > 0 || ahead.failed > 0)) {
    text += ` · ${ahead.finished} pulled ahead of demand${Number.isFinite(ahead.failed) && ahead.failed > 0 ? `, ${ahead.failed} failed` : ""}`;
  }
  return text;
}

// Besides the rate: the VMs of the image now and the most at once lately ("3 in use, peak 4"),
// or the peak rate from a daemon that gives that instead.
function peakText(demand) {
  const parts = [];
  if (Number.isFinite(demand.vmsInUse)) parts.push(`${demand.vmsInUse} in use`);
  if (Number.isFinite(demand.peakVms)) parts.push(`peak ${demand.peakVms}`);
  else if (Number.isFinite(demand.peakPerMinute)) parts.push(`peak ${formatRate(demand.peakPerMinute)}/min`);
  return parts.join(", ");
}

const countText = (value) => (Number.isFinite(value) ? String(value) : "–");

function updateImageRow(row, image) {
  const pinned = Number.isFinite(image.minHosts) && image.minHosts > 0;
  setText(row.pinned, pinned ? `pinned: at least ${plural(image.minHosts, "Mac")}` : "");
  setHidden(row.pinned, !pinned);
  setAttr(row.pinned, "title", pinned ? "An operator keeps this image on at least this many Macs (PUT /api/images/{image})" : false);

  setText(row.holders, countText(image.holders));
  setText(row.target, countText(image.target));
  const short = Number.isFinite(image.holders) && Number.isFinite(image.target) && image.holders < image.target;
  setVariant(row.hosts, HOLDERS, short ? "short" : "enough");
  setAttr(row.hosts, "title", short ? `${image.target - image.holders} more Macs should hold it` : false);
  setText(row.pulling, countText(image.pulling));

  const demand = image.demand && typeof image.demand === "object" ? image.demand : {};
  setText(row.demand, formatRate(demand.placementsPerMinute));
  setText(row.peak, peakText(demand));
  setText(row.queued, countText(demand.queued));
  const pool = [];
  if (Number.isFinite(demand.poolWarm) && demand.poolWarm > 0) pool.push(`${demand.poolWarm} warm`);
  if (Number.isFinite(demand.poolQueuedJobs) && demand.poolQueuedJobs > 0) pool.push(`${plural(demand.poolQueuedJobs, "job")} queued`);
  if (Number.isFinite(demand.rolloutHosts) && demand.rolloutHosts > 0) pool.push(`rollout needs ${plural(demand.rolloutHosts, "Mac")}`);
  setText(row.pool, pool.length ? `runner pool: ${pool.join(", ")}` : "");
  setHidden(row.pool, pool.length === 0);

  const shareKnown = Number.isFinite(image.cachedPlacementShare);
  setText(row.share, shareKnown ? formatPercent(image.cachedPlacementShare * 100) : "–");
  const placements = image.placements && typeof image.placements === "object" ? image.placements : {};
  const cached = Number.isFinite(placements.cached) ? placements.cached : NaN;
  const all = cached + (Number.isFinite(placements.uncached) ? placements.uncached : NaN);
  setText(row.placements, shareKnown && Number.isFinite(all) ? `${cached} of ${all}` : "");
  setText(row.meanPull, Number.isFinite(image.meanPullSeconds) ? formatRuntime(image.meanPullSeconds) : "–");
}
