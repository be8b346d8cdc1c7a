// No browser needed: the committed stylesheet is what Tailwind makes of web/src today, CMake
// embeds exactly the files the daemon serves, and the formatting helpers say what the dashboard
// shows.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot } from "./lib/paths.mjs";
import { BUILT_STYLESHEET, embeddedByCMake, servedSources } from "../../web/scripts/check-embedded.mjs";
import { formatAgo, formatRate, formatRuntime, formatUsedTotal, shortImageName } from "../../web/src/format.js";
import { capacityLevel, jobWait, pendingReasonText, sortJobs, tenantShareText, vmTenancy } from "../../web/src/fleet-model.js";

const web = join(repoRoot, "web");
const src = join(web, "src");

// The Tailwind of web/package-lock.json (tests/browser/run.sh runs npm ci in web/), over web/src
// as `npm run build` runs it.
test("the committed stylesheet is what Tailwind builds of web/src today", () => {
  const tailwind = join(web, "node_modules", ".bin", "tailwindcss");
  assert.ok(existsSync(tailwind), "web/node_modules has no tailwindcss: run npm ci in web/");
  const scratch = mkdtempSync(join(tmpdir(), "macvmorx-styles-"));
  try {
    const output = join(scratch, "styles.css");
    execFileSync(tailwind, ["--input", "src/styles.css", "--output", output, "--minify"], { cwd: web, stdio: "pipe" });
    const committed = readFileSync(BUILT_STYLESHEET, "utf8");
    assert.ok(committed === readFileSync(output, "utf8"), "web/built/styles.css is stale: run npm run build in web/ and commit it");
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const css = readFileSync(BUILT_STYLESHEET, "utf8");
  assert.ok(!/@import|url\(\s*["']?https?:/.test(css), "the stylesheet loads nothing from elsewhere");
});

test("CMake embeds exactly the files of web/src the daemon serves, and the built stylesheet", () => {
  const cmake = embeddedByCMake();
  assert.ok(cmake.file, "a CMakeLists.txt below src/ sets MACVMORX_WEB_FILES");
  assert.deepEqual(cmake.names, servedSources(), "run npm run build in web/: it prints the line to use");
  assert.ok(cmake.stylesheet, `${cmake.file} embeds web/built/styles.css`);
});

// The house's layers: the views stand on the shared modules (fleet-model.js, controls.js,
// node-parts.js, theme.js, format.js, dom.js); only app.js wires them and drives the one Poller.
test("the views import no other view, and only app.js the poller", () => {
  const views = ["node-cards.js", "node-table.js", "overview.js", "vm-view.js", "job-view.js", "summary.js", "history-charts.js"];
  const importsOf = (name) => [...readFileSync(join(src, name), "utf8").matchAll(/\bfrom "\.\/([^"]+)"/g)].map((m) => m[1]);
  for (const view of views) {
    const imports = importsOf(view);
    assert.ok(imports.includes("dom.js"), `${view}'s imports are read`);
    for (const name of imports) assert.ok(!views.includes(name), `${view} imports the view ${name}: move what they share to a shared module`);
  }
  for (const name of servedSources().filter((n) => n.endsWith(".js") && n !== "app.js")) {
    assert.ok(!importsOf(name).includes("poller.js"), `${name} imports poller.js: app.js drives the one Poller`);
  }
});

test("the page has no inline script, style or event handler", () => {
  const html = readFileSync(join(src, "index.html"), "utf8");
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/);
  assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i);
  for (const name of readdirSync(src).filter((n) => n.endsWith(".js"))) {
    assert.doesNotMatch(readFileSync(join(src, name), "utf8"), /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, name);
  }
});

test("runtimes, ages and sizes read the way operators write them", () => {
  assert.equal(formatRuntime(45), "45s");
  assert.equal(formatRuntime(725), "12m 05s");
  assert.equal(formatRuntime(3720), "1h 02m");
  assert.equal(formatRuntime(3 * 86400 + 4 * 3600), "3d 04h");
  assert.equal(formatAgo(400), "just now");
  assert.equal(formatAgo(12_000), "12 s ago");
  assert.equal(formatAgo(5 * 60_000), "5 min ago");
  assert.equal(formatAgo(3 * 3600_000), "3 h ago");
  assert.equal(formatUsedTotal(8.5, 16), "8.5 / 16 GB");
  assert.equal(formatUsedTotal(150, 500), "150 / 500 GB");
  assert.equal(formatUsedTotal(450, 1000), "0.45 / 1 TB");
  assert.equal(shortImageName("ghcr.io/acme/macos-sonoma:15"), "macos-sonoma:15");
  assert.equal(capacityLevel({ total: 0, free: 0 }), "ok");
  assert.equal(capacityLevel({ total: 20, free: 9 }), "ok");
  assert.equal(capacityLevel({ total: 20, free: 4 }), "warn");
  assert.equal(capacityLevel({ total: 2, free: 1 }), "warn");
  assert.equal(capacityLevel({ total: 20, free: 0 }), "critical");
});

test("a job's wait splits into host, VM and GitHub, within the job's own wait", () => {
  const at = (seconds) => new Date(Date.UTC(2026, 11, 2, 9, 0, seconds)).toISOString();
  const job = { state: "in_progress", queuedAt: at(0), vmAssignedAt: at(10), vmRunningAt: at(50), startedAt: at(55) };
  assert.deepEqual(jobWait(job, 0), { host: 10, vm: 40, runner: 5, total: 55, waiting: false });
  // A warm runner, booted before the job was queued: only GitHub's hand-over counts.
  const warm = { ...job, vmAssignedAt: at(-300), vmRunningAt: at(-250), startedAt: at(4) };
  assert.deepEqual(jobWait(warm, 0), { host: 0, vm: 0, runner: 4, total: 4, waiting: false });
  // Still queued: the wait so far, parts unknown; cancelled in the queue: its time there.
  const queued = jobWait({ state: "queued", queuedAt: at(0) }, Date.parse(at(30)));
  assert.equal(queued.total, 30);
  assert.equal(queued.waiting, true);
  assert.ok(Number.isNaN(queued.host));
  assert.equal(jobWait({ state: "completed", queuedAt: at(0), completedAt: at(20) }, 0).total, 20);
  const order = sortJobs([
    { jobId: 1, state: "completed", queuedAt: at(0), completedAt: at(5) },
    { jobId: 2, state: "queued", queuedAt: at(3) },
    { jobId: 3, state: "completed", queuedAt: at(1), completedAt: at(9) },
    { jobId: 4, state: "in_progress", queuedAt: at(2) },
  ]).map((j) => j.jobId);
  assert.deepEqual(order, [4, 2, 3, 1], "open jobs oldest first, then the latest completed");
});

test("a pending VM's reason reads as a sentence, with only the counts that say something", () => {
  const nodes = { total: 200, offline: 3, draining: 1, full: 190, labelsMismatch: 6, notEnoughMemory: 0 };
  const reason = (code, extra = {}) => pendingReasonText({ code, nodes, aheadInQueue: 0, tenantAtCap: false, ...extra });
  assert.equal(
    reason("noFreeSlot", { aheadInQueue: 12 }),
    "No free slot: 190 of 200 Macs full, 6 without the labels, 3 offline, 1 draining; 12 ahead in queue",
  );
  assert.equal(
    pendingReasonText({ code: "notEnoughMemory", nodes: { total: 5, offline: 0, draining: 0, full: 2, labelsMismatch: 0, notEnoughMemory: 3 }, aheadInQueue: 0 }),
    "Not enough free memory: 2 of 5 Macs full, 3 short of memory",
  );
  assert.equal(reason("noNodeCarriesLabels", { missingLabels: ["xcode=99", "gpu"] }), "No Mac carries xcode=99, gpu");
  assert.equal(pendingReasonText({ code: "noNodes", nodes: { total: 0 } }), "No Mac has reported yet");
  assert.equal(pendingReasonText({ code: "allOffline", nodes: { total: 1, offline: 1 } }), "The one Mac is offline");
  assert.equal(pendingReasonText({ code: "allDraining", nodes: { total: 3, draining: 3 } }), "All 3 Macs are draining");
  assert.equal(pendingReasonText({ code: "allDraining", nodes: { total: 4, offline: 1, draining: 3 } }), "Every Mac is offline or draining: 1 of 4 Macs offline, 3 draining");
  assert.equal(pendingReasonText({ code: "tenantAtCap", nodes: {}, tenantAtCap: true }, "acme/app"), "Tenant acme/app is at its limit");
  assert.equal(
    pendingReasonText({ code: "behindInQueue", nodes: { ...nodes, full: 188, free: 2 }, aheadInQueue: 12, tenantAtCap: true }),
    "Waiting its turn: 2 of 200 Macs free; 12 ahead in queue; its tenant is at its limit",
  );
  assert.equal(pendingReasonText({ code: "somethingNew" }), "Waiting (somethingNew)", "a code of a newer daemon is still shown");
  assert.equal(pendingReasonText(undefined), "", "an older daemon gives none");
  assert.equal(pendingReasonText(null), "");

  assert.equal(vmTenancy({ tenant: "acme/app", priority: 0 }), "tenant acme/app");
  assert.equal(vmTenancy({ tenant: null, priority: 5 }), "priority 5");
  assert.equal(vmTenancy({ tenant: null, priority: 0 }, { priority: true }), "priority 0");
  assert.equal(vmTenancy({}), "", "an older daemon gives neither");
  assert.equal(vmTenancy({ tenant: null, priority: 0, effectivePriority: 2 }, { priority: true }), "priority 0, 2 after waiting");
  assert.equal(
    reason("labelsMismatch"),
    "The Macs with its labels are offline or draining: 190 of 200 Macs full, 6 without the labels, 3 offline, 1 draining",
  );
  assert.equal(tenantShareText({ inUse: 3, weight: 1, maxVms: null }), "3 VMs in use, weight 1");
  assert.equal(tenantShareText({ inUse: 1, weight: 2, maxVms: 4 }), "1 VM in use, weight 2, at most 4");
  assert.equal(formatRate(1.5), "1.5");
  assert.equal(formatRate(0.25), "0.25");
  assert.equal(formatRate(12.4), "12");
  assert.equal(formatRate(0), "0");
  assert.equal(formatRate(null), "–");
});
