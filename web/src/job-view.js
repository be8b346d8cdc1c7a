// The Jobs view: the GitHub Actions jobs of the runner pools (filterable by state), each with
// its link to GitHub, its runner, VM and node, where its wait went and, while it waits for a
// Mac, why.

import { StateFilter } from "./controls.js";
import { el, reconcile, setAttr, setHidden, setText, setVariant, setWidthPercent } from "./dom.js";
import { formatAge, formatRuntime, parseTime } from "./format.js";
import { jobMatches, jobWait, pendingReasonText, sortJobs } from "./fleet-model.js";
import {
  CONCLUSION_BADGE,
  JOB_STATE_BADGE,
  JOB_STATE_DOT,
  JOB_STATE_LABEL,
  JOB_STATES,
  WAIT_PHASES,
  WAIT_SEGMENT,
  conclusionTone,
} from "./theme.js";

const WAIT_LABEL = { host: "host", vm: "VM", runner: "GitHub" };
const WAIT_TITLE = {
  host: "Waiting for a Mac with a free slot",
  vm: "Waiting for the VM: image download and boot",
  runner: "Waiting for GitHub to hand the job to the runner",
};

export class JobView {
  // onStateChosen(state): the operator picked a state filter ("" for all).
  constructor(root, { onStateChosen }) {
    this.stateFilter = new StateFilter(root.querySelector("#job-state-filter"), {
      states: JOB_STATES,
      labels: JOB_STATE_LABEL,
      dots: JOB_STATE_DOT,
      onChosen: onStateChosen,
    });
    this.body = root.querySelector("#job-rows");
    this.rowViews = new Map();
    this.noMatch = root.querySelector("#no-job-match");
    this.shown = root.querySelector("#jobs-shown");
  }

  update(jobs, view, now) {
    const matching = jobs.filter((job) => jobMatches(job, view, { ignoreState: true }));
    this.stateFilter.update(matching, view.jobState);

    const shown = sortJobs(view.jobState ? matching.filter((job) => job.state === view.jobState) : matching);
    reconcile(this.body, this.rowViews, shown, (job) => String(job.jobId), createJobRow, (row, job) => updateJobRow(row, job, now));
    setText(this.shown, shown.length === jobs.length ? `(${shown.length})` : `(${shown.length} of ${jobs.length})`);
    setHidden(this.noMatch, shown.length > 0);
    setText(
      this.noMatch,
      jobs.length === 0
        ? "No job yet: jobs appear here when GitHub delivers a workflow_job webhook for a runner pool."
        : "No job matches the filter.",
    );
  }

  tick(now) {
    for (const row of this.rowViews.values()) {
      setText(row.age, formatAge(now - parseTime(row.job.queuedAt)));
      if (row.job.state === "queued") updateWait(row, row.job, now);
      if (row.job.state === "in_progress") updateRan(row, row.job, now);
    }
  }
}

function createJobRow(job) {
  const link = el("a", {
    class: "font-medium break-words",
    target: "_blank",
    rel: "noopener noreferrer",
    "data-field": "link",
  });
  const repository = el("p", { class: "font-mono text-xs break-all text-slate-600 dark:text-slate-300", "data-field": "repository" });
  const run = el("p", { class: "text-xs tabular-nums muted", "data-field": "run" });
  const badge = el("span", { class: "badge", "data-field": "state" });
  const conclusion = el("span", { class: "badge", "data-field": "conclusion" });
  const pool = el("td", { class: "td font-mono text-xs whitespace-nowrap", "data-field": "pool" });
  const runner = el("p", { class: "font-mono text-xs break-all", "data-field": "runner" });
  const vm = el("span", { class: "font-mono", "data-field": "vm" });
  const node = el("span", { class: "font-mono", "data-field": "node" });
  const placement = el("p", { class: "text-xs muted" }, ["VM ", vm, " on ", node]);
  const age = el("td", { class: "td tabular-nums whitespace-nowrap", "data-field": "age" });
  const ran = el("td", { class: "td tabular-nums whitespace-nowrap", "data-field": "ran" });

  const segments = {};
  for (const phase of [...WAIT_PHASES, "open"]) {
    segments[phase] = el("span", { class: `h-full ${WAIT_SEGMENT[phase === "open" ? "unknown" : phase]}`, "data-segment": phase });
  }
  const bar = el(
    "div",
    {
      class: "flex h-2 w-40 overflow-hidden rounded-full bg-slate-200 dark:bg-slate-700",
      role: "img",
      "data-field": "wait-bar",
    },
    Object.values(segments),
  );
  const total = el("span", { class: "tabular-nums", "data-field": "wait-total" });
  const parts = {};
  const legend = el(
    "ul",
    { class: "mt-1 flex flex-wrap gap-x-3 text-xs tabular-nums muted", "data-field": "wait-parts" },
    WAIT_PHASES.map((phase) => {
      parts[phase] = el("span", { "data-field": `wait-${phase}` });
      return el("li", { class: "flex items-center gap-1", title: WAIT_TITLE[phase] }, [
        el("span", { class: `inline-block size-2 rounded-full ${WAIT_SEGMENT[phase]}`, "aria-hidden": "true" }),
        `${WAIT_LABEL[phase]} `,
        parts[phase],
      ]);
    }),
  );

  const pending = el("p", { class: "mt-1 max-w-md text-xs break-words text-amber-900 dark:text-amber-300", "data-field": "pending-reason" });

  const root = el("tr", { "data-job-id": job.jobId, class: "hover:bg-slate-50 dark:hover:bg-slate-800/40" }, [
    el("th", { scope: "row", class: "td max-w-sm text-left font-normal" }, [link, repository, run]),
    el("td", { class: "td" }, [el("div", { class: "flex flex-wrap gap-1" }, [badge, conclusion])]),
    pool,
    el("td", { class: "td max-w-xs" }, [runner, placement]),
    age,
    el("td", { class: "td", "data-field": "wait" }, [
      el("div", { class: "flex items-center gap-2 whitespace-nowrap" }, [bar, total]),
      legend,
      pending,
    ]),
    ran,
  ]);
  return { root, job, link, repository, run, badge, conclusion, pool, runner, placement, vm, node, age, ran, bar, segments, total, legend, parts, pending };
}

// Only web links become links: a URL of another scheme (javascript:, data:) stays text.
function safeUrl(text) {
  try {
    const url = new URL(text);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

function updateJobRow(row, job, now) {
  row.job = job;
  setAttr(row.root, "data-state", job.state);
  const title = [job.workflowName, job.jobName].filter(Boolean).join(" / ") || `job ${job.jobId}`;
  setText(row.link, title);
  const href = safeUrl(job.htmlUrl);
  setAttr(row.link, "href", href ?? false);
  setAttr(row.link, "title", href ? `${job.htmlUrl} (opens GitHub)` : false);
  setVariant(row.link, LINK, href ? "web" : "none");
  setText(row.repository, job.repository || "–");
  setText(row.run, `run ${job.runId} · job ${job.jobId}`);

  const known = job.state in JOB_STATE_BADGE ? job.state : "unknown";
  setText(row.badge, JOB_STATE_LABEL[known] ?? (job.state || "unknown"));
  setAttr(row.badge, "data-state", known);
  setVariant(row.badge, JOB_STATE_BADGE, known);
  setText(row.conclusion, job.conclusion ?? "");
  setHidden(row.conclusion, !job.conclusion);
  setVariant(row.conclusion, CONCLUSION_BADGE, conclusionTone(job.conclusion));

  setText(row.pool, job.pool || "–");
  setText(row.runner, job.runnerName || (job.state === "completed" ? "no runner" : "no runner yet"));
  setVariant(row.runner, RUNNER, job.runnerName ? "named" : "none");
  setText(row.vm, job.vmId || "–");
  setText(row.node, job.nodeId || "–");
  setHidden(row.placement, !job.vmId && !job.nodeId);

  setText(row.age, formatAge(now - parseTime(job.queuedAt)));
  updateWait(row, job, now);
  updateRan(row, job, now);

  // Why a runner for it would have no Mac now. The daemon explains every queued job so; once a
  // Mac could take its runner and nothing is ahead, the wait is the VM's or GitHub's: no reason.
  const reason = job.pendingReason;
  const blocked = job.state === "queued" && reason && !(reason.code === "behindInQueue" && !(reason.aheadInQueue > 0));
  const pending = blocked ? pendingReasonText(reason) : "";
  setText(row.pending, pending);
  setHidden(row.pending, !pending);
  setAttr(row.pending, "data-code", pending ? job.pendingReason.code : false);
}

const LINK = {
  web: "link",
  none: "",
};

const RUNNER = {
  named: "",
  none: "italic text-slate-500 dark:text-slate-400",
};

function updateWait(row, job, now) {
  const wait = jobWait(job, now);
  const split = WAIT_PHASES.every((phase) => Number.isFinite(wait[phase]));
  const sum = split ? wait.host + wait.vm + wait.runner : 0;
  for (const phase of WAIT_PHASES) {
    const seconds = wait[phase];
    setWidthPercent(row.segments[phase], split && sum > 0 ? (seconds / sum) * 100 : 0);
    setText(row.parts[phase], Number.isFinite(seconds) ? formatRuntime(seconds) : "–");
  }
  const open = !split && Number.isFinite(wait.total);
  setWidthPercent(row.segments.open, open ? 100 : 0);
  setVariant(row.segments.open, WAIT_SEGMENT, wait.waiting ? "open" : "unknown");
  setHidden(row.legend, !split);

  let text = "–";
  if (split) text = `${formatRuntime(wait.total)} in all`;
  else if (wait.waiting) text = `waiting ${formatRuntime(wait.total)}`;
  else if (Number.isFinite(wait.total) && !job.startedAt) text = `${formatRuntime(wait.total)}, never started`;
  else if (Number.isFinite(wait.total)) text = `${formatRuntime(wait.total)} in all`;
  setText(row.total, text);
  setAttr(row.root, "data-waiting", wait.waiting ? "true" : false);

  const label = split
    ? `Waited ${formatRuntime(wait.total)}: ${WAIT_PHASES.map((phase) => `${WAIT_LABEL[phase]} ${formatRuntime(wait[phase])}`).join(", ")}`
    : `Wait: ${text}`;
  setAttr(row.bar, "aria-label", label);
}

// How long the job ran: so far while in progress, in all once completed.
function updateRan(row, job, now) {
  const started = parseTime(job.startedAt);
  const end = job.state === "completed" ? parseTime(job.completedAt) : now;
  setText(row.ran, Number.isFinite(started) && Number.isFinite(end) ? formatRuntime(Math.max(0, (end - started) / 1000)) : "–");
}
