// Colours of states and levels, as Tailwind classes written out in full (Tailwind finds the
// classes it generates by scanning this folder's files).

import { el, setAttr, setText, setVariant } from "./dom.js";

// VM states in the order the dashboard lists them.
export const VM_STATES = [
  "running",
  "provisioning",
  "assigned",
  "pending",
  "deleting",
  "failed",
  "lost",
  "unmanaged",
  "deleted",
];

export const VM_STATE_BADGE = {
  running: "bg-emerald-100 text-emerald-800 dark:bg-emerald-500/15 dark:text-emerald-300",
  provisioning: "bg-sky-100 text-sky-800 dark:bg-sky-500/15 dark:text-sky-300",
  assigned: "bg-indigo-100 text-indigo-800 dark:bg-indigo-500/20 dark:text-indigo-300",
  pending: "bg-amber-100 text-amber-900 dark:bg-amber-500/15 dark:text-amber-300",
  deleting: "bg-orange-100 text-orange-900 dark:bg-orange-500/15 dark:text-orange-300",
  deleted: "bg-slate-200 text-slate-700 dark:bg-slate-700 dark:text-slate-300",
  failed: "bg-rose-100 text-rose-800 dark:bg-rose-500/20 dark:text-rose-300",
  lost: "bg-fuchsia-100 text-fuchsia-800 dark:bg-fuchsia-500/20 dark:text-fuchsia-300",
  unmanaged: "bg-violet-100 text-violet-800 dark:bg-violet-500/20 dark:text-violet-300",
  unknown: "bg-slate-200 text-slate-700 dark:bg-slate-700 dark:text-slate-300",
};

export const VM_STATE_DOT = {
  running: "bg-emerald-500",
  provisioning: "bg-sky-500",
  assigned: "bg-indigo-500",
  pending: "bg-amber-500",
  deleting: "bg-orange-500",
  deleted: "bg-slate-400",
  failed: "bg-rose-500",
  lost: "bg-fuchsia-500",
  unmanaged: "bg-violet-500",
  unknown: "bg-slate-400",
};

export const ONLINE_BADGE = {
  online: "bg-emerald-100 text-emerald-800 dark:bg-emerald-500/15 dark:text-emerald-300",
  offline: "bg-slate-300 text-slate-800 dark:bg-slate-700 dark:text-slate-200",
};

// Node statuses an agent reports; anything else is shown neutral.
export const STATUS_CHIP = {
  good: "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-300",
  closed: "bg-amber-100 text-amber-900 dark:bg-amber-500/15 dark:text-amber-300",
  bad: "bg-rose-100 text-rose-800 dark:bg-rose-500/20 dark:text-rose-300",
  stale: "border border-dashed border-slate-400 text-slate-700 italic dark:border-slate-500 dark:text-slate-300",
};

// The reason an agent gives for its status (statusReason), in the tone of its status chip.
export const STATUS_REASON = {
  good: "text-slate-600 dark:text-slate-300",
  closed: "text-amber-900 dark:text-amber-300",
  bad: "text-rose-700 dark:text-rose-300",
  stale: "text-slate-700 italic dark:text-slate-300",
};

export function statusTone(status) {
  if (status === "degraded" || status === "error" || status === "unhealthy") return "bad";
  if (status === "draining" || status === "maintenance" || status === "offline") return "closed";
  return "good";
}

// Cached images; the one a VM of the node runs stands out.
export const IMAGE_CHIP = {
  idle: "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-300",
  inUse: "bg-sky-100 text-sky-900 ring-1 ring-sky-400 font-semibold dark:bg-sky-500/20 dark:text-sky-100 dark:ring-sky-500/60",
};

export const BAR_LEVEL = {
  ok: "bg-sky-600 dark:bg-sky-500",
  warn: "bg-amber-500 dark:bg-amber-400",
  critical: "bg-rose-600 dark:bg-rose-500",
};

// A state badge whose text and colour follow the state.
export function stateBadge(state) {
  const badge = el("span", { class: "badge", "data-state": "" });
  updateStateBadge(badge, state);
  return badge;
}

export function updateStateBadge(badge, state) {
  const known = state in VM_STATE_BADGE ? state : "unknown";
  setText(badge, state || "unknown");
  setAttr(badge, "data-state", known);
  setVariant(badge, VM_STATE_BADGE, known);
}

// GitHub Actions jobs: their states in the order the Jobs view lists them, and how they read.
// A waiting job is held by an environment's protection rules until someone approves it.
export const JOB_STATES = ["waiting", "queued", "in_progress", "completed"];

export const JOB_STATE_LABEL = {
  waiting: "waiting for approval",
  queued: "queued",
  in_progress: "in progress",
  completed: "completed",
};

export const JOB_STATE_BADGE = {
  waiting: "bg-violet-100 text-violet-800 dark:bg-violet-500/20 dark:text-violet-300",
  queued: "bg-amber-100 text-amber-900 dark:bg-amber-500/15 dark:text-amber-300",
  in_progress: "bg-sky-100 text-sky-800 dark:bg-sky-500/15 dark:text-sky-300",
  completed: "bg-slate-200 text-slate-700 dark:bg-slate-700 dark:text-slate-300",
  unknown: "bg-slate-200 text-slate-700 dark:bg-slate-700 dark:text-slate-300",
};

export const JOB_STATE_DOT = {
  waiting: "bg-violet-500",
  queued: "bg-amber-500",
  in_progress: "bg-sky-500",
  completed: "bg-slate-400",
  unknown: "bg-slate-400",
};

// A completed job's conclusion, as GitHub reports it; anything else is shown neutral.
export const CONCLUSION_BADGE = {
  success: "bg-emerald-100 text-emerald-800 dark:bg-emerald-500/15 dark:text-emerald-300",
  failure: "bg-rose-100 text-rose-800 dark:bg-rose-500/20 dark:text-rose-300",
  neutral: "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-300",
};

export function conclusionTone(conclusion) {
  if (conclusion === "success") return "success";
  if (conclusion === "failure" || conclusion === "timed_out" || conclusion === "startup_failure") return "failure";
  return "neutral";
}

// Where a job's wait went: for a host, for its VM (download and boot), for GitHub to hand the
// job to the runner. `open`: a wait still under way whose parts are not known yet.
export const WAIT_PHASES = ["host", "vm", "runner"];

export const WAIT_SEGMENT = {
  host: "bg-amber-500 dark:bg-amber-400",
  vm: "bg-sky-600 dark:bg-sky-500",
  runner: "bg-violet-500 dark:bg-violet-400",
  open: "bg-amber-300 animate-pulse dark:bg-amber-500/50",
  unknown: "bg-slate-300 dark:bg-slate-600",
};
