// The overview: the whole fleet on one screen, one small cell per Mac coloured by its state and
// the slots in use (cellState), in groups by a label key the operator picks, under a legend that
// counts each state. Each group is a listbox: one tab stop, the arrow keys move among its cells
// (aria-activedescendant), and the cell under the pointer or the keyboard shows its Mac in a
// tooltip; a click, Enter or Space opens the Mac (onOpen). A filter dims the Macs it leaves out
// rather than taking them away, so the map keeps its shape. Cells are kept per nodeId, in the
// order of the names, and a refresh touches only those whose node changed.

import { el, reconcile, setAttr, setHidden, setText } from "./dom.js";
import { CELL_STATES, cellState, compareNames, groupOf, slotsInUse } from "./fleet-model.js";
import { formatPercent, formatUsedTotal, plural } from "./format.js";

export const CELL_LABEL = {
  free: "free",
  partly: "partly used",
  full: "full",
  degraded: "degraded",
  draining: "draining",
  offline: "offline",
};

// The cells' size follows the fleet's, so that 10,000 Macs fit on a screen (see styles.css).
const densityOf = (count) => (count > 4000 ? "small" : count > 1200 ? "medium" : "large");

let lastElementId = 0;

export class NodeOverview {
  // root: the overview's element (#overview, holding #overview-groups, #overview-legend and
  // #overview-tip); onOpen(nodeId): the operator opens a Mac.
  constructor(root, { onOpen }) {
    this.root = root;
    this.groupsRoot = root.querySelector("#overview-groups");
    this.tip = createTip(root.querySelector("#overview-tip"));
    this.onOpen = onOpen;
    this.store = undefined;
    this.cells = new Map(); // nodeId -> {root, nodeId, node, state, group}
    this.order = []; // nodeIds by name
    this.nodeOrder = undefined; // the store's order when membership was last checked
    this.key = undefined; // the label key the groups were made of
    this.groups = new Map(); // group -> its view (see createGroup)
    this.shownIds = undefined;
    this.legend = new Map(
      CELL_STATES.map((state) => {
        const count = el("span", { class: "tabular-nums muted", "data-field": "count", text: "0" });
        const root = el("li", { class: "flex items-center gap-1.5", "data-legend": state }, [
          el("span", { class: "ov-swatch", "data-cell": state, "aria-hidden": "true" }),
          el("span", { text: CELL_LABEL[state] }),
          count,
        ]);
        return [state, { root, count }];
      }),
    );
    root.querySelector("#overview-legend").replaceChildren(...[...this.legend.values()].map((entry) => entry.root));

    this.groupsRoot.addEventListener("mouseover", (event) => {
      const cell = this.cellOf(event.target);
      if (cell) this.showTip(cell);
    });
    this.groupsRoot.addEventListener("mouseleave", () => this.showFocused());
    this.groupsRoot.addEventListener("click", (event) => {
      const cell = this.cellOf(event.target);
      if (!cell) return;
      const group = this.groups.get(cell.group);
      if (group) this.activate(group, cell, false);
      this.onOpen(cell.nodeId);
    });
    this.groupsRoot.addEventListener("focusin", (event) => {
      const group = this.groupOfList(event.target);
      if (group) this.activate(group, this.cells.get(group.active) ?? group.cells[0], true);
    });
    this.groupsRoot.addEventListener("focusout", () => this.hideTip());
    this.groupsRoot.addEventListener("keydown", (event) => {
      const group = this.groupOfList(event.target);
      if (group) this.onKey(event, group);
    });
  }

  // ids: the nodes the filters keep (`store.nodeOrder` itself when no filter is set); store:
  // the FleetStore; group: the label key to group by ("" none).
  update(ids, store, group) {
    this.store = store;
    let regroup = group !== this.key;
    this.key = group;
    if (store.nodeOrder !== this.nodeOrder) {
      this.nodeOrder = store.nodeOrder;
      if (this.membershipChanged(store)) {
        this.order = [...store.nodes.keys()].sort(compareNames);
        regroup = true;
      }
    }
    let changed = regroup;
    for (const id of this.order) {
      const node = store.nodes.get(id);
      let cell = this.cells.get(id);
      if (!cell) this.cells.set(id, (cell = createCell(id)));
      if (cell.node === node) continue;
      changed = true;
      updateCell(cell, node);
      if (!regroup && groupOf(node, group) !== cell.group) regroup = true;
    }
    setAttr(this.groupsRoot, "data-density", densityOf(this.order.length));
    if (regroup) this.layOut();
    if (changed) this.count();
    if (ids !== this.shownIds || regroup) {
      this.shownIds = ids;
      const all = ids === store.nodeOrder;
      const kept = all ? undefined : new Set(ids);
      for (const cell of this.cells.values()) setAttr(cell.root, "data-dim", !all && !kept.has(cell.nodeId));
    }
    if (this.tip.nodeId !== undefined) this.fillTip(this.cells.get(this.tip.nodeId));
  }

  // Drops every cell (another layout is shown, or signed out).
  clear() {
    this.hideTip();
    this.groupsRoot.replaceChildren();
    this.cells.clear();
    this.groups.clear();
    this.order = [];
    this.nodeOrder = undefined;
    this.key = undefined;
    this.shownIds = undefined;
  }

  membershipChanged(store) {
    if (store.nodes.size !== this.cells.size) return true;
    for (const id of store.nodes.keys()) if (!this.cells.has(id)) return true;
    return false;
  }

  // Puts every cell in its group, the groups in the order of their names (Macs without the
  // label last).
  layOut() {
    for (const [id, cell] of this.cells) {
      if (!this.store.nodes.has(id)) this.cells.delete(id);
    }
    const members = new Map();
    for (const id of this.order) {
      const cell = this.cells.get(id);
      cell.group = groupOf(cell.node, this.key);
      const list = members.get(cell.group);
      if (list) list.push(cell);
      else members.set(cell.group, [cell]);
    }
    const names = [...members.keys()].sort((a, b) => (a === "" ? 1 : b === "" ? -1 : compareNames(a, b)));
    const items = names.map((name) => ({ name, cells: members.get(name) }));
    reconcile(this.groupsRoot, this.groups, items, (item) => item.name, (item) => createGroup(item.name, this.key), (group, item) => {
      group.cells = item.cells;
      setText(group.title, item.name || (this.key ? `Without ${this.key}` : "All Macs"));
      group.list.replaceChildren(...item.cells.map((cell) => cell.root));
      if (!item.cells.some((cell) => cell.nodeId === group.active)) this.activate(group, item.cells[0], false);
    });
  }

  // The legend's counts and each group's Macs and slots in use.
  count() {
    const counts = new Map(CELL_STATES.map((state) => [state, 0]));
    for (const group of this.groups.values()) {
      let used = 0;
      let total = 0;
      for (const cell of group.cells) {
        counts.set(cell.state, counts.get(cell.state) + 1);
        const slots = slotsInUse(cell.node);
        used += slots.used;
        total += slots.total;
      }
      setText(group.summary, `${plural(group.cells.length, "Mac")}, ${used} of ${plural(total, "slot")} in use`);
    }
    for (const [state, entry] of this.legend) setText(entry.count, counts.get(state));
  }

  cellOf(target) {
    const element = target instanceof Element ? target.closest(".ov-cell") : null;
    return element ? this.cells.get(element.dataset.nodeId) : undefined;
  }

  groupOfList(target) {
    if (!(target instanceof Element) || target.getAttribute("role") !== "listbox") return undefined;
    for (const group of this.groups.values()) if (group.list === target) return group;
    return undefined;
  }

  // Makes `cell` the group's active one (the listbox's aria-activedescendant); `shown`: the
  // keyboard is there, so it scrolls into view and shows its tooltip.
  activate(group, cell, shown) {
    if (!cell) return;
    const previous = this.cells.get(group.active);
    if (previous && previous !== cell) {
      setAttr(previous.root, "data-active", false);
      setAttr(previous.root, "aria-selected", false);
    }
    group.active = cell.nodeId;
    setAttr(cell.root, "data-active", true);
    setAttr(cell.root, "aria-selected", "true");
    setAttr(group.list, "aria-activedescendant", cell.root.id);
    if (shown) {
      cell.root.scrollIntoView({ block: "nearest" });
      this.showTip(cell);
    }
  }

  onKey(event, group) {
    const cells = group.cells;
    const current = Math.max(0, cells.findIndex((cell) => cell.nodeId === group.active));
    const columns = Math.max(1, getComputedStyle(group.list).gridTemplateColumns.split(" ").filter(Boolean).length);
    const moves = {
      ArrowRight: current + 1,
      ArrowLeft: current - 1,
      ArrowDown: current + columns,
      ArrowUp: current - columns,
      Home: 0,
      End: cells.length - 1,
    };
    if (event.key in moves) {
      event.preventDefault();
      this.activate(group, cells[Math.min(cells.length - 1, Math.max(0, moves[event.key]))], true);
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      if (cells[current]) this.onOpen(cells[current].nodeId);
    }
  }

  // The tooltip of the cell the keyboard is on, if any; else none.
  showFocused() {
    const group = this.groupOfList(document.activeElement);
    const cell = group && this.cells.get(group.active);
    if (cell) this.showTip(cell);
    else this.hideTip();
  }

  showTip(cell) {
    this.fillTip(cell);
    const tip = this.tip.root;
    setHidden(tip, false);
    const box = cell.root.getBoundingClientRect();
    const width = tip.offsetWidth;
    const height = tip.offsetHeight;
    let left = box.right + 8;
    if (left + width > window.innerWidth - 8) left = Math.max(8, box.left - 8 - width);
    const top = Math.min(Math.max(8, box.top - 4), window.innerHeight - height - 8);
    tip.style.left = `${Math.round(left)}px`;
    tip.style.top = `${Math.round(top)}px`;
  }

  fillTip(cell) {
    const tip = this.tip;
    if (!cell?.node) {
      this.hideTip();
      return;
    }
    const { node } = cell;
    tip.nodeId = cell.nodeId;
    setText(tip.name, cell.nodeId);
    setText(tip.state, CELL_LABEL[cell.state]);
    setAttr(tip.swatch, "data-cell", cell.state);
    const slots = slotsInUse(node);
    setText(tip.slots, `${slots.used} of ${plural(slots.total, "slot")} in use`);
    setText(tip.usage, `CPU ${formatPercent(node.cpuUsagePercent)} · memory ${formatUsedTotal(node.memoryUsageGB, node.totalMemoryGB)}`);
    const status = node.isOnline ? node.status || "unknown" : `last reported ${node.status || "unknown"}`;
    setText(tip.status, node.statusReason ? `${status}: ${node.statusReason}` : status);
    setText(tip.group, cell.group);
    setHidden(tip.group, !cell.group);
  }

  hideTip() {
    this.tip.nodeId = undefined;
    setHidden(this.tip.root, true);
  }
}

function createTip(root) {
  const name = el("p", { class: "font-mono font-semibold" });
  const swatch = el("span", { class: "ov-swatch", "aria-hidden": "true" });
  const state = el("span");
  const slots = el("p", { class: "tabular-nums" });
  const usage = el("p", { class: "tabular-nums" });
  const status = el("p", { class: "max-w-72 break-words" });
  const group = el("p", { class: "font-mono" });
  root.replaceChildren(name, el("p", { class: "flex items-center gap-1.5" }, [swatch, state]), slots, usage, status, group);
  return { root, name, swatch, state, slots, usage, status, group, nodeId: undefined };
}

function createGroup(name, key) {
  const headingId = `ov-group-${++lastElementId}`;
  const title = el("span", { class: "font-mono" });
  const summary = el("span", { class: "font-normal muted tabular-nums" });
  const list = el("div", { role: "listbox", tabindex: "0", class: "ov-list", "aria-labelledby": headingId });
  const root = el("section", { class: "flex flex-col gap-1.5", "data-group": name, "data-group-key": key ?? "" }, [
    el("h3", { id: headingId, class: "flex flex-wrap items-baseline gap-x-2 text-sm font-semibold" }, [title, summary]),
    list,
  ]);
  return { root, title, summary, list, cells: [], active: undefined };
}

function createCell(nodeId) {
  const root = document.createElement("div");
  root.className = "ov-cell";
  root.id = `ov-cell-${++lastElementId}`;
  root.setAttribute("role", "option");
  root.dataset.nodeId = nodeId;
  return { root, nodeId, node: undefined, state: undefined, group: "" };
}

function updateCell(cell, node) {
  cell.node = node;
  cell.state = cellState(node);
  setAttr(cell.root, "data-cell", cell.state);
  const slots = slotsInUse(node);
  setAttr(cell.root, "aria-label", `${cell.nodeId}: ${CELL_LABEL[cell.state]}, ${slots.used} of ${slots.total} slots in use`);
}
