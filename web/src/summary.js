// The header's fleet totals, from GET /api/fleet.

import { el, reconcile, setAttr, setHidden, setText, setVariant, setWidthPercent } from "./dom.js";
import { capacityLevel } from "./fleet-model.js";
import { percentOf } from "./format.js";
import { VM_STATE_DOT, VM_STATES } from "./theme.js";

const CAPACITY_TILE = {
  ok: "",
  warn: "border-amber-400 bg-amber-50 dark:border-amber-500/70 dark:bg-amber-950/40",
  critical: "border-rose-400 bg-rose-50 dark:border-rose-500/70 dark:bg-rose-950/40",
};
const CAPACITY_NUMBER = {
  ok: "text-slate-900 dark:text-slate-100",
  warn: "text-amber-700 dark:text-amber-300",
  critical: "text-rose-700 dark:text-rose-300",
};
const CAPACITY_BADGE = {
  warn: "bg-amber-200 text-amber-900 dark:bg-amber-500/25 dark:text-amber-200",
  critical: "bg-rose-200 text-rose-900 dark:bg-rose-500/25 dark:text-rose-200",
};

export class Summary {
  constructor(root) {
    this.totals = new Map([...root.querySelectorAll("[data-total]")].map((node) => [node.dataset.total, node]));
    this.slotsTile = root.querySelector("#total-slots");
    this.warning = root.querySelector("#capacity-warning");
    this.meter = root.querySelector("#slots-meter");
    this.usedBar = root.querySelector("#slots-used-bar");
    this.reservedBar = root.querySelector("#slots-reserved-bar");
    this.stateList = root.querySelector("#vm-state-totals");
    // The page holds every state's entry from the start (so nothing moves when data arrives).
    this.stateViews = new Map(
      [...this.stateList.querySelectorAll("[data-vm-state]")].map((entry) => [entry.dataset.vmState, { root: entry, count: entry.querySelector("dd") }]),
    );
  }

  update(fleet) {
    const set = (name, value) => setText(this.totals.get(name), value);
    set("online", fleet.nodes.online);
    set("offline", fleet.nodes.offline);
    set("draining", fleet.nodes.draining);
    set("total", fleet.nodes.total);
    set("free", fleet.slots.free);
    set("slots", fleet.slots.total);
    // Slots placed on a Mac that takes no new VMs (drained, offline) are reserved but not among
    // the slots counted, so there may be more of them than of slots in use.
    const running = Math.max(0, fleet.slots.used - fleet.slots.reserved);
    set("used", running);
    set("reserved", fleet.slots.reserved);

    const level = capacityLevel(fleet.slots);
    setAttr(this.slotsTile, "data-level", level);
    setVariant(this.slotsTile, CAPACITY_TILE, level);
    setVariant(this.totals.get("free"), CAPACITY_NUMBER, level);
    setHidden(this.warning, level === "ok");
    setText(this.warning, level === "critical" ? "Fleet full" : "Nearly full");
    setVariant(this.warning, CAPACITY_BADGE, level);

    const usedPercent = percentOf(running, fleet.slots.total);
    const reservedPercent = Math.min(100 - usedPercent, percentOf(fleet.slots.reserved, fleet.slots.total));
    setWidthPercent(this.usedBar, usedPercent);
    setWidthPercent(this.reservedBar, reservedPercent);
    setAttr(this.meter, "aria-valuenow", Math.round(usedPercent + reservedPercent));

    const states = VM_STATES.map((state) => ({ state, count: fleet.vms[state] ?? 0 }));
    reconcile(this.stateList, this.stateViews, states, (s) => s.state, createStateTotal, updateStateTotal);
  }
}

function createStateTotal({ state }) {
  const count = el("dd", { class: "text-2xl font-semibold tabular-nums" });
  const root = el("div", { class: "flex flex-col-reverse", "data-vm-state": state }, [
    el("dt", { class: "flex items-center gap-1.5 text-sm text-slate-600 dark:text-slate-300" }, [
      el("span", { class: `inline-block size-2 rounded-full ${VM_STATE_DOT[state]}`, "aria-hidden": "true" }),
      state,
    ]),
    count,
  ]);
  return { root, count };
}

const ZERO = { zero: "text-slate-500 dark:text-slate-400", some: "" };

function updateStateTotal(view, { count }) {
  setText(view.count, count);
  setVariant(view.count, ZERO, count === 0 ? "zero" : "some");
}
