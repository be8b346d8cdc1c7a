// The VMs view: every VM record (filterable by state) and the placement queue.

import { StateFilter } from "./controls.js";
import { el, reconcile, setAttr, setHidden, setText, setVariant } from "./dom.js";
import { formatAge, formatRuntime, parseTime } from "./format.js";
import { labelList, sortVms, vmMatches } from "./fleet-model.js";
import { VM_STATE_DOT, VM_STATES, stateBadge, updateStateBadge } from "./theme.js";

const REASON = {
  failure: "text-rose-700 dark:text-rose-300",
  message: "text-slate-600 dark:text-slate-300",
};

export class VmView {
  // onStateChosen(state): the operator picked a state filter ("" for all).
  constructor(root, { onStateChosen }) {
    this.stateFilter = new StateFilter(root.querySelector("#vm-state-filter"), {
      states: VM_STATES,
      dots: VM_STATE_DOT,
      onChosen: onStateChosen,
    });
    this.body = root.querySelector("#vm-rows");
    this.rowViews = new Map();
    this.noMatch = root.querySelector("#no-vm-match");
    this.shown = root.querySelector("#vms-shown");
    this.queueList = root.querySelector("#queue-list");
    this.queueViews = new Map();
    this.queueEmpty = root.querySelector("#queue-empty");
    this.queueCount = root.querySelector("#queue-count");
  }

  update(snapshot, index, view, now) {
    const matching = snapshot.vms.filter((record) => vmMatches(record, index.nodesById, view, { ignoreState: true }));
    this.stateFilter.update(matching, view.vmState);

    const shown = sortVms(view.vmState ? matching.filter((record) => record.state === view.vmState) : matching);
    reconcile(this.body, this.rowViews, shown, (record) => record.vmId, createVmRow, (row, record) =>
      updateVmRow(row, record, now),
    );
    setText(this.shown, shown.length === snapshot.vms.length ? `(${shown.length})` : `(${shown.length} of ${snapshot.vms.length})`);
    setHidden(this.noMatch, shown.length > 0);
    setText(this.noMatch, snapshot.vms.length === 0 ? "No VM has been placed or reported yet." : "No VM matches the filter.");

    reconcile(this.queueList, this.queueViews, snapshot.queue, (record) => record.vmId, createQueueItem, (item, record) =>
      updateQueueItem(item, record, now),
    );
    snapshot.queue.forEach((record, i) => setText(this.queueViews.get(record.vmId).position, `${i + 1}`));
    setHidden(this.queueEmpty, snapshot.queue.length > 0);
    setText(this.queueCount, snapshot.queue.length ? `(${snapshot.queue.length})` : "");
  }

  tick(now) {
    for (const row of this.rowViews.values()) setText(row.age, formatAge(now - row.createdMs));
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
  const root = el("tr", { "data-vm-id": record.vmId, class: "hover:bg-slate-50 dark:hover:bg-slate-800/40" }, [
    el("th", { scope: "row", class: "td font-mono font-medium whitespace-nowrap", text: record.vmId }),
    el("td", { class: "td" }, [badge]),
    node,
    el("td", { class: "td font-mono text-xs", "data-field": "image" }, [image, cached]),
    age,
    runtime,
    attempts,
    reason,
  ]);
  return { root, badge, node, image, cached, age, runtime, attempts, reason, createdMs: NaN };
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
  const failure = record.failureReason;
  let text = failure || record.message || "";
  if (!failure && Number.isFinite(record.progress) && record.state === "provisioning") {
    text = `${Math.round(record.progress * 100)}%${text ? ` · ${text}` : ""}`;
  }
  setText(row.reason, text);
  setVariant(row.reason, REASON, failure ? "failure" : "message");
}

function createQueueItem(record) {
  const position = el("span", {
    class: "flex size-7 shrink-0 items-center justify-center rounded-full bg-amber-100 text-sm font-semibold tabular-nums text-amber-900 dark:bg-amber-500/20 dark:text-amber-200",
  });
  const image = el("p", { class: "font-mono text-xs break-all text-slate-600 dark:text-slate-300" });
  const labels = el("p", { class: "font-mono text-xs muted" });
  const waiting = el("span", { class: "ml-auto shrink-0 text-xs tabular-nums muted" });
  const root = el("li", { class: "flex items-start gap-3 px-4 py-3", "data-vm-id": record.vmId }, [
    position,
    el("div", { class: "min-w-0 flex-1" }, [
      el("div", { class: "flex items-center gap-2" }, [
        el("span", { class: "truncate font-mono text-sm font-medium", text: record.vmId }),
        waiting,
      ]),
      image,
      labels,
    ]),
  ]);
  return { root, position, image, labels, waiting, createdMs: NaN };
}

function updateQueueItem(item, record, now) {
  setText(item.image, record.imageName);
  const labels = labelList(record.labels);
  setText(item.labels, labels.length ? `needs ${labels.join(", ")}` : "");
  setHidden(item.labels, labels.length === 0);
  item.createdMs = parseTime(record.createdAt);
  setText(item.waiting, `waiting ${formatAge(now - item.createdMs)}`);
}
