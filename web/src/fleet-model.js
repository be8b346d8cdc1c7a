// What the dashboard derives from one snapshot of the API, and which nodes, VMs and jobs a
// filter keeps. Pure functions of plain data (no DOM), shared by every view.

import { formatLabel, parseTime, plural } from "./format.js";

// States of VM records that hold or are about to hold a slot on their node.
const PLACED_STATES = new Set(["assigned", "provisioning", "deleting", "running", "lost", "unmanaged"]);

export function labelList(labels) {
  if (!labels || typeof labels !== "object") return [];
  if (Array.isArray(labels)) return labels.map(String);
  return Object.entries(labels).map(([key, value]) => formatLabel(key, value));
}

// Names in the order people count: sim-mac-2 before sim-mac-10, mac-110 before mac-1099.
const NATURAL = new Intl.Collator("en", { numeric: true });

export function compareNames(a, b) {
  return NATURAL.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

// Online nodes first, offline ones last; by name within each group, numbers by their value.
export function compareNodes(a, b) {
  if (a.isOnline !== b.isOnline) return a.isOnline ? -1 : 1;
  return compareNames(a.nodeId, b.nodeId);
}

export function sortNodes(nodes) {
  return [...nodes].sort(compareNodes);
}

// What a VM record says besides its state, when it still describes it: an agent's message comes
// with the event of a state (provisioning "booting", running "running at 192.168.64.5"), so
// once the VM has moved past those states (deleting, deleted, failed, lost) it is left out; a
// failed VM says why it failed instead.
const STATES_WITH_MESSAGES = new Set(["pending", "assigned", "provisioning", "running"]);

export function vmMessage(record) {
  return STATES_WITH_MESSAGES.has(record.state) ? (record.message ?? "") : "";
}

// Newest first, the order operators look for a VM that just failed or started.
export function sortVms(vms) {
  return [...vms].sort((a, b) => {
    const ta = parseTime(a.createdAt) || 0;
    const tb = parseTime(b.createdAt) || 0;
    if (ta !== tb) return tb - ta;
    return a.vmId < b.vmId ? -1 : a.vmId > b.vmId ? 1 : 0;
  });
}

// A VM as its host names it: the record's hostVmId (a VM the host made itself is recorded as
// "<node>:<name>"), else its vmId.
const hostKey = (nodeId, name) => `${nodeId}\u0000${name}`;

// The VMs of a node as its card lists them: those its heartbeat reports, under the host's names
// (with the state of their record), then those placed there that it does not report yet.
export function nodeVms(node, recordsByHost, placedByNode) {
  const rows = [];
  const reported = new Set();
  for (const vm of node.vms ?? []) {
    const record = recordsByHost.get(hostKey(node.nodeId, vm.vmId));
    reported.add(record?.vmId ?? vm.vmId);
    rows.push({
      vmId: vm.vmId,
      imageName: vm.imageName ?? record?.imageName ?? "",
      state: record?.state ?? "running",
      runtimeSeconds: vm.runtimeSeconds,
      vmHostname: vm.vmHostname ?? "",
      vmIpAddress: vm.vmIpAddress ?? "",
      reported: true,
      progress: record?.progress,
      message: record ? vmMessage(record) : undefined,
    });
  }
  for (const record of placedByNode.get(node.nodeId) ?? []) {
    if (reported.has(record.vmId)) continue;
    rows.push({
      vmId: record.vmId,
      imageName: record.imageName ?? "",
      state: record.state,
      runtimeSeconds: undefined,
      vmHostname: record.vmHostname ?? "",
      vmIpAddress: record.vmIpAddress ?? "",
      reported: false,
      progress: record.progress,
      message: vmMessage(record),
    });
  }
  return rows;
}

// Indexes of one snapshot that the views share.
export function indexSnapshot(snapshot) {
  const recordsById = new Map();
  const recordsByHost = new Map();
  const placedByNode = new Map();
  for (const record of snapshot.vms) {
    recordsById.set(record.vmId, record);
    if (record.nodeId) recordsByHost.set(hostKey(record.nodeId, record.hostVmId ?? record.vmId), record);
    if (record.nodeId && PLACED_STATES.has(record.state)) {
      let list = placedByNode.get(record.nodeId);
      if (!list) placedByNode.set(record.nodeId, (list = []));
      list.push(record);
    }
  }
  const nodesById = new Map(snapshot.nodes.map((node) => [node.nodeId, node]));
  const images = new Set();
  const labels = new Set();
  for (const node of snapshot.nodes) {
    for (const image of node.cachedImages ?? []) images.add(image);
    for (const vm of node.vms ?? []) if (vm.imageName) images.add(vm.imageName);
    for (const label of labelList(node.labels)) labels.add(label);
  }
  for (const record of snapshot.vms) {
    if (record.imageName) images.add(record.imageName);
    for (const label of labelList(record.labels)) labels.add(label);
  }
  return {
    recordsById,
    recordsByHost,
    placedByNode,
    nodesById,
    images: [...images].sort(),
    labels: [...labels].sort(),
  };
}

// Whether every word of the search `q` occurs in one of the texts `fieldsOf()` returns (asked
// for only when there is a search); missing texts count as empty.
function searchFinds(q, fieldsOf) {
  const words = q.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const haystack = fieldsOf()
    .map((value) => value ?? "")
    .join("\n")
    .toLowerCase();
  return words.every((word) => haystack.includes(word));
}

function hasLabel(labels, label) {
  return labelList(labels).includes(label);
}

// The node state filter: "", online, offline, draining, free, full.
function nodeInState(node, state) {
  switch (state) {
    case "online":
      return node.isOnline;
    case "offline":
      return !node.isOnline;
    case "draining":
      return node.drained || node.status === "draining";
    case "free":
      return node.isOnline && node.freeSlots > 0;
    case "full":
      return node.isOnline && node.freeSlots === 0;
    default:
      return true;
  }
}

const vmsOf = (vms) => (typeof vms === "function" ? vms() : vms);

// The words of a search, in lower case.
export function searchWords(q) {
  return q.toLowerCase().split(/\s+/).filter(Boolean);
}

// What the search looks in for a node, in lower case: its name, status (and the reason its
// agent gives), labels, images and VMs.
export function nodeSearchText(node, vms) {
  return [
    node.nodeId,
    node.status,
    node.statusReason,
    node.isOnline ? "online" : "offline",
    ...labelList(node.labels),
    ...(node.cachedImages ?? []),
    ...vms.flatMap((vm) => [vm.vmId, vm.imageName, vm.vmHostname, vm.vmIpAddress, vm.state]),
  ]
    .map((value) => value ?? "")
    .join("\n")
    .toLowerCase();
}

// A node matches when every word of the search occurs in its text (nodeSearchText), and it
// passes the state, image and label filters. `vms`: the node's VMs (nodeVms), an array or a
// function that makes it (asked for only for the image filter); `text()`: the node's text
// (asked for only when there is a search); `words`: searchWords of the view's search.
export function nodeMatches(node, vms, view, { words = searchWords(view.q), text = () => nodeSearchText(node, vmsOf(vms)) } = {}) {
  if (!nodeInState(node, view.state)) return false;
  if (view.image) {
    const runs = vmsOf(vms).some((vm) => vm.imageName === view.image);
    if (!runs && !(node.cachedImages ?? []).includes(view.image)) return false;
  }
  if (view.label && !hasLabel(node.labels, view.label)) return false;
  if (words.length === 0) return true;
  const haystack = text();
  return words.every((word) => haystack.includes(word));
}

// A VM record matches the search (its id, node, image, state, host name, address, reason,
// message, tenant, why it waits, metadata), its state filter, the image filter and the label filter (a label it asked for, or
// one of its node).
export function vmMatches(record, nodesById, view, { ignoreState = false } = {}) {
  if (!ignoreState && view.vmState && record.state !== view.vmState) return false;
  if (view.image && record.imageName !== view.image) return false;
  if (view.label) {
    const node = record.nodeId ? nodesById.get(record.nodeId) : undefined;
    if (!hasLabel(record.labels, view.label) && !(node && hasLabel(node.labels, view.label))) return false;
  }
  return searchFinds(view.q, () => [
    record.vmId,
    record.state,
    record.nodeId,
    record.imageName,
    record.vmHostname,
    record.vmIpAddress,
    record.failureReason,
    record.message,
    record.tenant,
    pendingReasonText(record.pendingReason, record.tenant),
    record.metadata ? JSON.stringify(record.metadata) : "",
  ]);
}

// A VM's tenant and priority, as one line: "tenant acme/app · priority 5". The priority shows
// when it is not the default 0, or always with `priority: true` (in the queue, whose order it
// sets), with what waiting made of it ("priority 0, 2 after waiting"); "" when the record has
// neither (a daemon that predates them).
export function vmTenancy(record, { priority = false } = {}) {
  const parts = [];
  if (typeof record.tenant === "string" && record.tenant) parts.push(`tenant ${record.tenant}`);
  if (Number.isFinite(record.priority) && (priority || record.priority !== 0)) {
    const aged = Number.isFinite(record.effectivePriority) && record.effectivePriority !== record.priority;
    parts.push(`priority ${record.priority}${aged ? `, ${record.effectivePriority} after waiting` : ""}`);
  }
  return parts.join(" · ");
}

// What a tenant holds of the fleet, from a queue item's tenantShare: "3 VMs in use, weight 1,
// at most 4"; "" when absent.
export function tenantShareText(share) {
  if (!share || typeof share !== "object") return "";
  const parts = [];
  if (Number.isFinite(share.inUse)) parts.push(`${plural(share.inUse, "VM")} in use`);
  if (Number.isFinite(share.weight)) parts.push(`weight ${share.weight}`);
  if (Number.isFinite(share.maxVms)) parts.push(`at most ${share.maxVms}`);
  return parts.join(", ");
}

// Why a VM (or a job's runner VM) waits, from its pendingReason, as an operator reads it:
// "No free slot: 190 of 200 Macs full, 6 without the labels, 3 offline, 1 draining; 12 ahead in
// queue". The daemon counts every Mac once, in the first of these that applies, so the counts
// add up to at most the total. `tenant`: the VM's, named when it is the one at its limit. ""
// when there is no reason (a daemon that predates them).
export function pendingReasonText(reason, tenant) {
  if (!reason || typeof reason !== "object" || typeof reason.code !== "string") return "";
  const nodes = reason.nodes && typeof reason.nodes === "object" ? reason.nodes : {};
  const count = (name) => (Number.isFinite(nodes[name]) ? nodes[name] : 0);
  const total = count("total");
  const parts = NODE_COUNTS.filter(([name]) => count(name) > 0).map(([name, words]) => [count(name), words]);
  let breakdown = parts.map(([n, words], i) => (i === 0 ? `${n} of ${plural(total, "Mac")} ${words}` : `${n} ${words}`)).join(", ");

  let headline = PENDING_HEADLINE[reason.code] ?? `Waiting (${reason.code})`;
  const labels = Array.isArray(reason.missingLabels) ? reason.missingLabels.map(String) : [];
  if (reason.code === "noNodeCarriesLabels" && labels.length) headline = `No Mac carries ${labels.join(", ")}`;
  // Every Mac in one state: the headline says it all.
  const only = parts.length === 1 && parts[0][0] === total;
  const every = total === 1 ? "The one Mac is" : `All ${total} Macs are`;
  if (reason.code === "allOffline" && only) [headline, breakdown] = [`${every} offline`, ""];
  if (reason.code === "allDraining" && only) [headline, breakdown] = [`${every} draining`, ""];
  if (reason.code === "tenantAtCap" && typeof tenant === "string" && tenant) headline = `Tenant ${tenant} is at its limit`;
  // A Mac could take it: what counts is how many, and the requests ahead.
  if (reason.code === "behindInQueue") breakdown = count("free") > 0 ? `${count("free")} of ${plural(total, "Mac")} free` : "";
  // No Mac to count: none has reported, or none could ever take it.
  if (reason.code === "noNodes" || reason.code === "noNodeCarriesLabels") breakdown = "";

  const after = [];
  if (Number.isFinite(reason.aheadInQueue) && reason.aheadInQueue > 0) after.push(`${reason.aheadInQueue} ahead in queue`);
  if (reason.tenantAtCap === true && reason.code !== "tenantAtCap") after.push("its tenant is at its limit");
  return [breakdown ? `${headline}: ${breakdown}` : headline, ...after].join("; ");
}

const PENDING_HEADLINE = {
  noNodes: "No Mac has reported yet",
  noFreeSlot: "No free slot",
  labelsMismatch: "The Macs with its labels are offline or draining",
  notEnoughMemory: "Not enough free memory",
  allOffline: "Every Mac is offline",
  allDraining: "Every Mac is offline or draining",
  tenantAtCap: "Its tenant is at its limit",
  behindInQueue: "Waiting its turn",
  noNodeCarriesLabels: "No Mac carries the labels asked for",
};

// The Macs a pending VM could not take, in the order the reason lists them.
const NODE_COUNTS = [
  ["full", "full"],
  ["labelsMismatch", "without the labels"],
  ["notEnoughMemory", "short of memory"],
  ["offline", "offline"],
  ["draining", "draining"],
];

// How full the fleet is: "critical" with no free slot, "warn" when at most a fifth of the
// slots (or a single one) is free, else "ok". An empty fleet is "ok": there is nothing to fill.
export function capacityLevel(slots) {
  if (!slots || slots.total <= 0) return "ok";
  if (slots.free <= 0) return "critical";
  if (slots.free <= Math.max(1, slots.total * 0.2)) return "warn";
  return "ok";
}

export function filtersActive(view) {
  return Boolean(view.q.trim() || view.state || view.image || view.label || view.vmState || view.jobState);
}

// GitHub Actions jobs as the Jobs view lists them: those queued or running first, oldest first
// (the longest wait on top); then completed ones, the most recently finished first.
export function sortJobs(jobs) {
  const open = (job) => job.state !== "completed";
  return [...jobs].sort((a, b) => {
    if (open(a) !== open(b)) return open(a) ? -1 : 1;
    const ta = open(a) ? parseTime(a.queuedAt) || 0 : -(parseTime(a.completedAt) || 0);
    const tb = open(b) ? parseTime(b.queuedAt) || 0 : -(parseTime(b.completedAt) || 0);
    if (ta !== tb) return ta - tb;
    return a.jobId - b.jobId;
  });
}

// A job matches when every word of the search occurs in its repository, workflow, job name,
// labels, pool, state, conclusion, runner, VM or node, and it is in the chosen state.
export function jobMatches(job, view, { ignoreState = false } = {}) {
  if (!ignoreState && view.jobState && job.state !== view.jobState) return false;
  return searchFinds(view.q, () => [
    job.repository,
    job.workflowName,
    job.jobName,
    ...(job.labels ?? []),
    job.pool,
    job.state,
    job.conclusion,
    job.runnerName,
    job.vmId,
    job.nodeId,
    String(job.jobId),
    String(job.runId),
  ]);
}

// Where a job's wait (from queued to started) went, in seconds: `host` waiting for a Mac with a
// free slot, `vm` for its VM to download the image and boot, `runner` for GitHub to hand the
// job to the runner. The parts are known once a runner of macvmorx took the job; each is cut to
// the job's own wait, so a warm runner, ready before the job, counts only for `runner`. Before
// that the parts are NaN and `total` is the wait so far (`waiting`: still under way) or, for a
// job completed without starting, its time in the queue.
export function jobWait(job, now) {
  const queued = parseTime(job.queuedAt);
  const started = parseTime(job.startedAt);
  const unknown = { host: NaN, vm: NaN, runner: NaN };
  if (!Number.isFinite(queued)) return { ...unknown, total: NaN, waiting: false };
  if (!Number.isFinite(started)) {
    const waiting = job.state === "queued";
    const end = waiting ? now : parseTime(job.completedAt);
    return { ...unknown, total: Math.max(0, (end - queued) / 1000), waiting };
  }
  const total = Math.max(0, (started - queued) / 1000);
  const assigned = parseTime(job.vmAssignedAt);
  const running = parseTime(job.vmRunningAt);
  if (!Number.isFinite(assigned) || !Number.isFinite(running)) return { ...unknown, total, waiting: false };
  const clip = (time) => Math.min(Math.max(time, queued), started);
  const hostEnd = clip(assigned);
  const vmEnd = Math.max(hostEnd, clip(running));
  return {
    host: (hostEnd - queued) / 1000,
    vm: (vmEnd - hostEnd) / 1000,
    runner: (started - vmEnd) / 1000,
    total,
    waiting: false,
  };
}

// A node's cell on the overview: "offline", "draining" (drained, or its agent says so),
// "degraded" (its agent reports a bad status), else by its slots in use (running and placed):
// "free" (none), "partly" or "full" (a Mac without slots counts as full: it takes no VM).
export const CELL_STATES = ["free", "partly", "full", "degraded", "draining", "offline"];

const BAD_STATUSES = new Set(["degraded", "error", "unhealthy"]);

export function slotsInUse(node) {
  const maxVms = Math.max(0, node.maxVms ?? 0);
  return { used: Math.min(maxVms, Math.max(0, (node.vmCount ?? 0) + (node.reservedSlots ?? 0))), total: maxVms };
}

export function cellState(node) {
  if (!node.isOnline) return "offline";
  if (node.drained || node.status === "draining") return "draining";
  if (BAD_STATUSES.has(node.status)) return "degraded";
  const { used, total } = slotsInUse(node);
  if (used === 0 && total > 0) return "free";
  return used >= total ? "full" : "partly";
}

// The keys of a fleet's labels ("chip" of "chip=m4"; a flag label is its own key), sorted.
export function labelKeys(labels) {
  const keys = new Set();
  for (const label of labels) {
    const i = label.indexOf("=");
    keys.add(i >= 0 ? label.slice(0, i) : label);
  }
  return [...keys].sort(compareNames);
}

// The group of a node on the overview grouped by the label key `key`: "chip=m4", or "" for
// a node without that label.
export function groupOf(node, key) {
  if (!key) return "";
  for (const label of labelList(node.labels)) {
    if (label === key || label.startsWith(`${key}=`)) return label;
  }
  return "";
}
