// The overview: the whole fleet on one screen, one small cell per Mac coloured by its state and
// the slots in use (cellState), in groups by a label key the operator picks, under a legend that
// counts each state. A group's cells are drawn on one canvas (10,000 elements would cost a
// browser hundreds of milliseconds on every search); the canvas sits in a listbox, one tab stop
// whose one option is the cell the keyboard is on (aria-activedescendant, with its place in the
// group), moved by the arrow keys. The cell under the pointer or the keyboard shows its Mac in
// a tooltip; a click, Enter or Space opens the Mac (onOpen). A filter dims the Macs it leaves
// out rather than taking them away, so the map keeps its shape. A refresh draws again only the
// groups in which a node changed.

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

// The cells' sizes and the gaps between them, in CSS pixels, largest first: the overview takes
// the largest with which every group fits on the screen (10,000 Macs on a 1080p screen: 7 px).
const CELL_SIZES = [
  { size: 20, gap: 3 },
  { size: 16, gap: 3 },
  { size: 12, gap: 2 },
  { size: 10, gap: 2 },
  { size: 8, gap: 2 },
  { size: 7, gap: 1 },
  { size: 6, gap: 1 },
  { size: 5, gap: 1 },
  { size: 4, gap: 1 },
];
// A group's heading and the space around it, in px.
const GROUP_HEADING = 34;

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
    this.cells = new Map(); // nodeId -> {nodeId, node, state, group, dim}
    this.order = []; // nodeIds by name
    this.nodeOrder = undefined; // the store's order when membership was last checked
    this.key = undefined; // the label key the groups were made of
    this.groups = new Map(); // group name -> its view (see createGroup)
    this.shownIds = undefined;
    this.colours = undefined; // state -> CSS colour, read from the legend (light or dark)
    this.width = 0;
    this.cell = CELL_SIZES[0]; // the cells' size, chosen by drawAll
    this.legend = new Map(
      CELL_STATES.map((state) => {
        const count = el("span", { class: "tabular-nums muted", "data-field": "count", text: "0" });
        const swatch = el("span", { class: "ov-swatch", "data-cell": state, "aria-hidden": "true" });
        const root = el("li", { class: "flex items-center gap-1.5", "data-legend": state }, [swatch, el("span", { text: CELL_LABEL[state] }), count]);
        return [state, { root, count, swatch }];
      }),
    );
    root.querySelector("#overview-legend").replaceChildren(...[...this.legend.values()].map((entry) => entry.root));

    const pointed = (event) => {
      const group = this.groupOfElement(event.target);
      return group && { group, index: this.indexAt(group, event) };
    };
    this.groupsRoot.addEventListener("mousemove", (event) => {
      const at = pointed(event);
      if (at && at.index >= 0) this.showTip(at.group, at.index);
      else this.showFocused();
    });
    this.groupsRoot.addEventListener("mouseleave", () => this.showFocused());
    this.groupsRoot.addEventListener("click", (event) => {
      const at = pointed(event);
      if (!at || at.index < 0) return;
      this.activate(at.group, at.index, false);
      this.onOpen(at.group.cells[at.index].nodeId);
    });
    this.groupsRoot.addEventListener("focusin", (event) => {
      const group = this.groupOfElement(event.target);
      if (group) this.activate(group, group.active, true);
    });
    this.groupsRoot.addEventListener("focusout", () => this.hideTip());
    this.groupsRoot.addEventListener("keydown", (event) => {
      const group = this.groupOfElement(event.target);
      if (group) this.onKey(event, group);
    });
    this.resizes = new ResizeObserver(() => {
      if (this.groupsRoot.clientWidth !== this.width) this.drawAll();
    });
    this.resizes.observe(this.groupsRoot);
    // Light and dark have their own colours.
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
      this.colours = undefined;
      this.drawAll();
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
        for (const id of this.cells.keys()) if (!store.nodes.has(id)) this.cells.delete(id);
        this.order = byName([...store.nodes.keys()]);
        regroup = true;
      }
    }
    const dirty = new Set(); // groups to draw again
    for (const id of this.order) {
      const node = store.nodes.get(id);
      let cell = this.cells.get(id);
      if (!cell) this.cells.set(id, (cell = { nodeId: id, node: undefined, state: "", group: "", dim: false }));
      if (cell.node === node) continue;
      cell.node = node;
      cell.state = cellState(node);
      dirty.add(cell.group);
      if (!regroup && groupOf(node, group) !== cell.group) regroup = true;
    }
    if (ids !== this.shownIds || regroup) {
      this.shownIds = ids;
      const all = ids === store.nodeOrder;
      const kept = all ? undefined : new Set(ids);
      for (const cell of this.cells.values()) {
        const dim = !all && !kept.has(cell.nodeId);
        if (dim !== cell.dim) {
          cell.dim = dim;
          dirty.add(cell.group);
        }
      }
    }
    if (regroup) this.layOut();
    if (regroup || dirty.size > 0) this.count();
    if (regroup) this.drawAll();
    else for (const name of dirty) this.draw(this.groups.get(name));
    const pointed = this.groups.get(this.tip.group);
    if (pointed) this.fillTip(pointed, this.tip.index);
  }

  // Drops every cell (another layout is shown, or signed out).
  clear() {
    if (this.order.length === 0 && this.groups.size === 0) return;
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
    reconcile(this.groupsRoot, this.groups, items, (item) => item.name, (item) => createGroup(item.name), (group, item) => {
      const active = group.cells[group.active]?.nodeId;
      group.cells = item.cells;
      group.active = Math.max(0, item.cells.findIndex((cell) => cell.nodeId === active));
      setAttr(group.root, "data-group-key", this.key);
      setText(group.title, item.name || (this.key ? `Without ${this.key}` : "All Macs"));
      setAttr(group.canvas, "data-cells", item.cells.length);
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

  drawAll() {
    this.width = this.groupsRoot.clientWidth;
    this.cell = this.chooseSize();
    for (const group of this.groups.values()) this.draw(group);
  }

  // The largest cells with which all groups fit in the screen's height below the overview's
  // top (at least half a screen: the page scrolls to it).
  chooseSize() {
    const top = this.groupsRoot.getBoundingClientRect().top + window.scrollY;
    const room = Math.max(window.innerHeight / 2, window.innerHeight - top - 16) - this.groups.size * GROUP_HEADING;
    for (const cell of CELL_SIZES) {
      const pitch = cell.size + cell.gap;
      const columns = Math.max(1, Math.floor((this.width - 8 + cell.gap) / pitch));
      let lines = 0;
      for (const group of this.groups.values()) lines += Math.ceil(group.cells.length / columns);
      if (lines * pitch <= room) return cell;
    }
    return CELL_SIZES.at(-1);
  }

  // Draws a group's cells: as many to a line as its width takes, each in its state's colour
  // (faint when a filter leaves it out).
  draw(group) {
    if (!group || this.width === 0) return;
    if (!this.colours) {
      this.colours = new Map([...this.legend].map(([state, entry]) => [state, getComputedStyle(entry.swatch).backgroundColor]));
    }
    const { size, gap } = this.cell;
    const pitch = size + gap;
    // The listbox's padding (p-1) on either side.
    const columns = Math.max(1, Math.floor((this.width - 8 + gap) / pitch));
    const lines = Math.ceil(group.cells.length / columns);
    const width = columns * pitch - gap;
    const height = Math.max(0, lines * pitch - gap);
    const ratio = window.devicePixelRatio || 1;
    const canvas = group.canvas;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
    }
    group.layout = { size, gap, pitch, columns };
    setAttr(canvas, "data-columns", columns);
    setAttr(canvas, "data-pitch", pitch);
    const context = canvas.getContext("2d");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    // One pass per state and faintness: few changes of the fill style.
    for (const dim of [false, true]) {
      context.globalAlpha = dim ? 0.2 : 1;
      for (const state of CELL_STATES) {
        context.fillStyle = this.colours.get(state);
        group.cells.forEach((cell, i) => {
          if (cell.state !== state || cell.dim !== dim) return;
          context.fillRect((i % columns) * pitch, Math.floor(i / columns) * pitch, size, size);
        });
      }
    }
    context.globalAlpha = 1;
    this.placeActive(group);
  }

  // The cell of `group` under the pointer of `event`, or -1.
  indexAt(group, event) {
    const layout = group.layout;
    if (!layout || event.target !== group.canvas) return -1;
    const box = group.canvas.getBoundingClientRect();
    const x = event.clientX - box.left;
    const y = event.clientY - box.top;
    const column = Math.floor(x / layout.pitch);
    const line = Math.floor(y / layout.pitch);
    if (column < 0 || column >= layout.columns || x - column * layout.pitch > layout.size || y - line * layout.pitch > layout.size) return -1;
    const index = line * layout.columns + column;
    return index < group.cells.length ? index : -1;
  }

  groupOfElement(target) {
    if (!(target instanceof Element)) return undefined;
    const list = target.closest('[role="listbox"]');
    for (const group of this.groups.values()) if (group.list === list) return group;
    return undefined;
  }

  // Makes cell `index` the group's active one (the listbox's one option); `shown`: the keyboard
  // is there, so it scrolls into view and shows its tooltip.
  activate(group, index, shown) {
    const cell = group.cells[index];
    if (!cell) return;
    group.active = index;
    this.placeActive(group);
    if (shown) {
      group.option.scrollIntoView({ block: "nearest" });
      this.showTip(group, index);
    }
  }

  // Puts the group's option (the ring of the keyboard's cell) on its active cell, and names it.
  placeActive(group) {
    const cell = group.cells[group.active];
    const layout = group.layout;
    if (!cell || !layout) return;
    const left = (group.active % layout.columns) * layout.pitch - 2;
    const top = Math.floor(group.active / layout.columns) * layout.pitch - 2;
    group.option.style.left = `${left}px`;
    group.option.style.top = `${top}px`;
    group.option.style.width = `${layout.size + 4}px`;
    group.option.style.height = `${layout.size + 4}px`;
    const slots = slotsInUse(cell.node);
    setAttr(group.option, "aria-label", `${cell.nodeId}: ${CELL_LABEL[cell.state]}, ${slots.used} of ${slots.total} slots in use`);
    setAttr(group.option, "aria-posinset", group.active + 1);
    setAttr(group.option, "aria-setsize", group.cells.length);
    setAttr(group.option, "data-node-id", cell.nodeId);
  }

  onKey(event, group) {
    const current = group.active;
    const columns = group.layout?.columns ?? 1;
    const moves = {
      ArrowRight: current + 1,
      ArrowLeft: current - 1,
      ArrowDown: current + columns,
      ArrowUp: current - columns,
      Home: 0,
      End: group.cells.length - 1,
    };
    if (event.key in moves) {
      event.preventDefault();
      this.activate(group, Math.min(group.cells.length - 1, Math.max(0, moves[event.key])), true);
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      const cell = group.cells[current];
      if (cell) this.onOpen(cell.nodeId);
    }
  }

  // The tooltip of the cell the keyboard is on, if any; else none.
  showFocused() {
    const group = this.groupOfElement(document.activeElement);
    if (group) this.showTip(group, group.active);
    else this.hideTip();
  }

  showTip(group, index) {
    if (!this.fillTip(group, index)) return;
    const tip = this.tip.root;
    setHidden(tip, false);
    const layout = group.layout;
    const box = group.canvas.getBoundingClientRect();
    const cellLeft = box.left + (index % layout.columns) * layout.pitch;
    const cellTop = box.top + Math.floor(index / layout.columns) * layout.pitch;
    const width = tip.offsetWidth;
    const height = tip.offsetHeight;
    let left = cellLeft + layout.size + 8;
    if (left + width > window.innerWidth - 8) left = Math.max(8, cellLeft - 8 - width);
    const top = Math.min(Math.max(8, cellTop - 4), window.innerHeight - height - 8);
    tip.style.left = `${Math.round(left)}px`;
    tip.style.top = `${Math.round(top)}px`;
  }

  // Writes the Mac of cell `index` of `group` in the tooltip; false when there is none.
  fillTip(group, index) {
    const tip = this.tip;
    const cell = group?.cells[index];
    if (!cell?.node) {
      this.hideTip();
      return false;
    }
    const { node } = cell;
    tip.group = group.name;
    tip.index = index;
    setText(tip.name, cell.nodeId);
    setText(tip.state, CELL_LABEL[cell.state]);
    setAttr(tip.swatch, "data-cell", cell.state);
    const slots = slotsInUse(node);
    setText(tip.slots, `${slots.used} of ${plural(slots.total, "slot")} in use`);
    setText(tip.usage, `CPU ${formatPercent(node.cpuUsagePercent)} · memory ${formatUsedTotal(node.memoryUsageGB, node.totalMemoryGB)}`);
    const status = node.isOnline ? node.status || "unknown" : `last reported ${node.status || "unknown"}`;
    setText(tip.status, node.statusReason ? `${status}: ${node.statusReason}` : status);
    setText(tip.groupLine, cell.group);
    setHidden(tip.groupLine, !cell.group);
    setAttr(tip.root, "data-node-id", cell.nodeId);
    return true;
  }

  hideTip() {
    this.tip.group = undefined;
    setHidden(this.tip.root, true);
  }
}

// Names in the order people count (as compareNames), sorted by a key made once per name: the
// runs of digits padded, so that a plain comparison does (10,000 names in a few ms).
function byName(ids) {
  const keyed = ids.map((id) => ({ id, key: id.toLowerCase().replace(/\d+/g, (digits) => digits.padStart(16, "0")) }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : compareNames(a.id, b.id)));
  return keyed.map((entry) => entry.id);
}

function createTip(root) {
  const name = el("p", { class: "font-mono font-semibold" });
  const swatch = el("span", { class: "ov-swatch", "aria-hidden": "true" });
  const state = el("span");
  const slots = el("p", { class: "tabular-nums" });
  const usage = el("p", { class: "tabular-nums" });
  const status = el("p", { class: "max-w-72 break-words" });
  const groupLine = el("p", { class: "font-mono" });
  root.replaceChildren(name, el("p", { class: "flex items-center gap-1.5" }, [swatch, state]), slots, usage, status, groupLine);
  // group, index: the cell shown (the name of its group; undefined when hidden).
  return { root, name, swatch, state, slots, usage, status, groupLine, group: undefined, index: 0 };
}

function createGroup(name) {
  const headingId = `ov-group-${++lastElementId}`;
  const title = el("span", { class: "font-mono" });
  const summary = el("span", { class: "font-normal muted tabular-nums" });
  const canvas = el("canvas", { class: "block cursor-pointer", "aria-hidden": "true", width: "0", height: "0" });
  const option = el("div", { role: "option", id: `ov-cell-${++lastElementId}`, class: "ov-active", "aria-selected": "true" });
  const list = el("div", { role: "listbox", tabindex: "0", class: "ov-list", "aria-labelledby": headingId, "aria-activedescendant": option.id }, [canvas, option]);
  const root = el("section", { class: "flex flex-col gap-1.5", "data-group": name }, [
    el("h3", { id: headingId, class: "flex flex-wrap items-baseline gap-x-2 text-sm font-semibold" }, [title, summary]),
    list,
  ]);
  return { name, root, title, summary, list, canvas, option, cells: [], active: 0, layout: undefined };
}
