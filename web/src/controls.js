// The controls more than one view shows: a state filter (the VMs and the Jobs views) and a
// node's Drain or Undrain button (the cards and the table). Each says what the operator chose
// through a callback; what follows is app.js's and node-actions.js's.

import { el, reconcile, setAttr, setText, setVariant } from "./dom.js";

const CHOICE_COUNT = {
  pressed: "text-white",
  normal: "text-slate-600 dark:text-slate-300",
};

// A row of buttons, "all" and one per state, each with the number of records in that state;
// the chosen one is pressed.
export class StateFilter {
  // root: the group of buttons; states: in display order; labels: a state's name as shown
  // (the state itself when missing); dots: the colour of each state; onChosen(state): the
  // operator picked a state ("" for all).
  constructor(root, { states, labels = {}, dots, onChosen }) {
    this.root = root;
    this.states = states;
    this.labels = labels;
    this.dots = dots;
    this.views = new Map();
    root.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-state-filter]");
      if (button) onChosen(button.dataset.stateFilter);
    });
  }

  // records: those the other filters keep (each with a `state`); selected: the chosen state.
  update(records, selected) {
    const counts = new Map();
    for (const record of records) counts.set(record.state, (counts.get(record.state) ?? 0) + 1);
    const choices = [{ state: "", label: "all", count: records.length }];
    for (const state of this.states) choices.push({ state, label: this.labels[state] ?? state, count: counts.get(state) ?? 0 });
    reconcile(
      this.root,
      this.views,
      choices,
      (choice) => choice.state,
      (choice) => this.createChoice(choice),
      (view, choice) => updateChoice(view, choice, selected),
    );
  }

  createChoice({ state, label }) {
    const count = el("span", { class: "tabular-nums text-slate-600 dark:text-slate-300" });
    const children = [];
    if (state) children.push(el("span", { class: `inline-block size-2 rounded-full ${this.dots[state]}`, "aria-hidden": "true" }));
    children.push(label, count);
    const root = el(
      "button",
      {
        type: "button",
        class:
          "inline-flex cursor-pointer items-center gap-1.5 rounded-full border border-slate-300 bg-white px-3 py-1 text-sm font-medium hover:bg-slate-50 aria-pressed:border-sky-700 aria-pressed:bg-sky-700 aria-pressed:text-white dark:border-slate-600 dark:bg-slate-800 dark:hover:bg-slate-700 dark:aria-pressed:border-sky-500 dark:aria-pressed:bg-sky-700",
        "data-state-filter": state,
        "aria-pressed": "false",
      },
      children,
    );
    return { root, count };
  }
}

function updateChoice(view, { state, count }, selected) {
  setText(view.count, count);
  const pressed = state === (selected || "");
  setAttr(view.root, "aria-pressed", String(pressed));
  setVariant(view.count, CHOICE_COUNT, pressed ? "pressed" : "normal");
}

// The button that drains a node, or undrains it when drained; its clicks are handled by
// handleDrainClicks on the container of the nodes.
export function drainButton() {
  return el("button", {
    type: "button",
    class: "button px-2.5 py-1 text-xs aria-disabled:cursor-default aria-disabled:opacity-50",
    "data-node-action": "",
  });
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
// the Promise onDrain returns settles. It is marked aria-disabled rather than disabled: a
// disabled button loses the keyboard focus, which would fall back to the page's body.
export function handleDrainClicks(container, onDrain) {
  container.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-node-action]");
    const node = button?.closest("[data-node-id]");
    if (!node || button.getAttribute("aria-disabled") === "true") return;
    setAttr(button, "aria-disabled", "true");
    setAttr(button, "aria-busy", "true");
    try {
      await onDrain(node.dataset.nodeId, button.dataset.nodeAction === "drain");
    } finally {
      setAttr(button, "aria-disabled", false);
      setAttr(button, "aria-busy", false);
    }
  });
}
