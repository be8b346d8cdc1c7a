// What the node cards and the node table have in common: the nodes kept per nodeId, with or
// without their Drain buttons, and what they show of a node the same way (its online and drained
// badges, its status with the reason its agent gives, its usage meters and its cached images).
// Each view lays them out its own way.

import { handleDrainClicks, updateDrainButton } from "./controls.js";
import { el, setAttr, setHidden, setText, setVariant, setWidthPercent } from "./dom.js";
import { levelOf } from "./format.js";
import { VirtualList } from "./virtual-list.js";
import { BAR_LEVEL, IMAGE_CHIP, ONLINE_BADGE, STATUS_CHIP, STATUS_REASON, statusTone } from "./theme.js";

// The views of the nodes in one layout, kept per nodeId for the nodes on screen (a
// VirtualList): create(item) makes the view of a node (its `actions` element holds the Drain
// button), update(view, item, now, actions) brings it up to date. The list's options say how it
// is laid out (see VirtualList).
export class NodeList {
  // onDrain(nodeId, drained): a Promise, settled once the node is drained (or undrained) and shown.
  constructor(container, { onDrain, create, update, spacer, estimate, grid }) {
    this.container = container;
    this.actions = false;
    this.store = undefined;
    this.now = 0;
    this.list = new VirtualList(container, {
      spacer,
      estimate,
      grid,
      create: (id) => create(this.store.item(id)),
      // A node whose data did not change since its view showed it is left alone (its clocks
      // move with tick()): a refresh in which 1% of the nodes changed updates 1% of the views.
      update: (view, id) => {
        const item = this.store.item(id);
        if (view.shownNode === item.node && view.shownVms === item.vms && view.shownActions === this.actions) return;
        view.shownNode = item.node;
        view.shownVms = item.vms;
        view.shownActions = this.actions;
        update(view, item, this.now, this.actions);
      },
    });
    handleDrainClicks(container, onDrain);
  }

  // ids: the nodes to show, in display order (of `store`, a FleetStore); now: the daemon's
  // current time in ms.
  update(ids, store, now) {
    this.store = store;
    this.now = now;
    this.list.show(ids);
  }

  // Scrolls to the node `nodeId`, marks it as opened and gives it the keyboard focus.
  reveal(nodeId) {
    const view = this.list.reveal(nodeId);
    if (!view) return;
    if (this.opened && this.opened !== view.root) this.opened.removeAttribute("data-opened");
    this.opened = view.root;
    setAttr(view.root, "data-opened", true);
    setAttr(view.root, "tabindex", "-1");
    view.root.focus({ preventScroll: true });
  }

  // The views of the nodes on screen.
  shown() {
    return this.list.shown();
  }

  // Whether the token's role may drain nodes.
  showActions(shown) {
    this.actions = shown;
    for (const view of this.shown()) setHidden(view.actions, !shown);
  }

  clear() {
    this.list.clear();
  }
}

export function drainedBadge() {
  return el("span", {
    class: "badge bg-amber-100 text-amber-900 dark:bg-amber-500/15 dark:text-amber-300",
    "data-field": "drained",
    text: "draining",
    hidden: true,
  });
}

// view: the elements of one node (root, online, drained, status, statusReason, actions, drain);
// actions: whether the token's role may drain nodes.
export function updateNodeState(view, node, actions) {
  const state = node.isOnline ? "online" : "offline";
  setAttr(view.root, "data-online", String(node.isOnline));
  setText(view.online, state);
  setVariant(view.online, ONLINE_BADGE, state);
  setHidden(view.drained, !node.drained);
  setHidden(view.actions, !actions);
  updateDrainButton(view.drain, node.nodeId, node.drained);
  // An offline node's status is what its agent said last, not how the Mac is now.
  const status = node.status || "unknown";
  setText(view.status, node.isOnline ? status : `last reported ${status}`);
  setAttr(view.status, "data-stale", node.isOnline ? false : "true");
  setVariant(view.status, STATUS_CHIP, node.isOnline ? statusTone(node.status) : "stale");
  updateStatusReason(view.status, view.statusReason, node);
}

// Why the node is in its status, when its agent says: the chip's title, and a line of text
// (the table's line is cut to its column; its title holds the whole reason).
function updateStatusReason(chip, line, node) {
  const reason = node.statusReason ?? "";
  setAttr(chip, "title", reason || null);
  setText(line, reason);
  setAttr(line, "title", reason || null);
  setHidden(line, !reason);
  setVariant(line, STATUS_REASON, node.isOnline ? statusTone(node.status) : "stale");
}

// A usage meter: a bar in an element with role="meter", of the given tag and classes; setMeter
// fills it and writes its figures in its text element.
export function createMeter(name, tag, classes, field) {
  const bar = el("span", { class: "block h-full rounded-full" });
  const meter = el(
    tag,
    { class: classes, role: "meter", "aria-label": name, "aria-valuemin": "0", "aria-valuemax": "100", "data-field": field },
    [bar],
  );
  return { bar, meter };
}

// m: a meter's text, bar and element with role="meter".
export function setMeter(m, percent, text) {
  setText(m.text, text);
  setWidthPercent(m.bar, percent);
  const level = levelOf(percent);
  setVariant(m.bar, BAR_LEVEL, level);
  setAttr(m.meter, "aria-valuenow", Math.round(percent));
  setAttr(m.meter, "aria-valuetext", text);
  setAttr(m.meter, "data-level", level);
}

// A cached image, marked when one of the node's VMs runs it; `shown`: its name as the view
// writes it (the whole reference, or a short one with the whole in the title).
export function createImageChip(image, shown, classes = "chip") {
  const marker = el("span", { class: "sr-only", text: " (in use)" });
  return { root: el("li", { class: classes, title: image }, [shown, marker]), marker };
}

export function updateImageChip(chip, inUse) {
  setAttr(chip.root, "data-in-use", String(inUse));
  setVariant(chip.root, IMAGE_CHIP, inUse ? "inUse" : "idle");
  setHidden(chip.marker, !inUse);
}
