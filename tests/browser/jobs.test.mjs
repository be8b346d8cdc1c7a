// The Jobs view: GitHub Actions jobs delivered by signed webhooks, run in runner VMs the daemon
// places on a Mac, and no Jobs view at all when the daemon has no runner pools.
import assert from "node:assert/strict";
import { test } from "node:test";
import { screenshot } from "./lib/browser.mjs";
import { RUNNER_IMAGE, deliver, eventually, runnerHost, startGitHub } from "./lib/github.mjs";
import { card, text, useBrowser, waitForText, withDashboard } from "./lib/harness.mjs";
import { formatRuntime } from "../../web/src/format.js";
import { jobWait } from "../../web/src/fleet-model.js";

useBrowser();

const row = (jobId) => `#job-rows tr[data-job-id="${jobId}"]`;
const shownJobs = (page) => page.locator("#job-rows > tr").evaluateAll((rows) => rows.map((r) => Number(r.dataset.jobId)));

// Runs `body` on a daemon with the runner pool "sonoma" connected to a fake GitHub.
async function withJobs(options, body) {
  const github = await startGitHub();
  try {
    await withDashboard({ ...options, daemon: { offlineTimeout: "10m", ...options.daemon, args: github.args } }, (session) =>
      body({ ...session, github }),
    );
  } finally {
    await github.close();
  }
}

test("a job appears with its link to GitHub, updates in place from queued to completed, and shows where its wait went", async () => {
  const job = { id: 101, runId: 5101, workflowName: "CI", name: "build", repository: "acme/app" };
  await withJobs(
    {
      daemon: { name: "jobs" },
      path: "/?tab=jobs",
      beforeOpen: async ({ daemon }) => {
        assert.equal((await deliver(daemon, "queued", job)).message, "job recorded");
      },
    },
    async ({ daemon, page, github }) => {
      const jobRow = row(101);
      await page.locator(jobRow).waitFor();
      assert.ok(await page.locator("#tab-jobs").isVisible(), "the daemon has runner pools: the Jobs tab shows");
      assert.equal(await page.getAttribute("#tab-jobs", "aria-selected"), "true");
      assert.ok(await page.locator("#panel-nodes").isHidden());
      assert.equal(await text(page, "#count-jobs"), "1 queued");
      assert.equal(await text(page, "#jobs-shown"), "(1)");

      // What GitHub said about the job, and a link to it.
      const link = page.locator(`${jobRow} a[data-field="link"]`);
      assert.equal((await link.textContent()).trim(), "CI / build");
      assert.equal(await link.getAttribute("href"), "https://github.com/acme/app/actions/runs/5101/job/101");
      assert.equal(await link.getAttribute("target"), "_blank");
      assert.equal(await link.getAttribute("rel"), "noopener noreferrer");
      assert.equal(await text(page, `${jobRow} [data-field="repository"]`), "acme/app");
      assert.equal(await text(page, `${jobRow} [data-field="run"]`), "run 5101 · job 101");
      assert.equal(await text(page, `${jobRow} [data-field="pool"]`), "sonoma");
      assert.equal(await text(page, `${jobRow} [data-field="state"]`), "queued");
      assert.ok(await page.locator(`${jobRow} [data-field="conclusion"]`).isHidden());
      assert.equal(await text(page, `${jobRow} [data-field="runner"]`), "no runner yet");
      assert.equal(await page.getAttribute(jobRow, "data-waiting"), "true");
      assert.match(await text(page, `${jobRow} [data-field="wait-total"]`), /^waiting \d+s$/);
      assert.ok(await page.locator(`${jobRow} [data-field="wait-parts"]`).isHidden(), "the parts are not known before a runner takes the job");
      // The row is marked, to tell later that it was updated rather than replaced.
      await page.$eval(jobRow, (tr) => (tr.dataset.marked = "yes"));

      // The daemon asked GitHub for a runner and queued its VM: no Mac yet. A Mac arrives,
      // takes the VM and reports it running.
      const vm = await eventually(async () => (await daemon.get("/api/vms")).find((r) => r.metadata?.pool === "sonoma"), "the runner VM");
      assert.ok(github.requests.includes("POST /orgs/acme/actions/runners/generate-jitconfig"), github.requests.join(", "));
      await daemon.heartbeat(runnerHost("mac-1"));
      await eventually(async () => (await daemon.get(`/api/vms/${vm.vmId}`)).nodeId === "mac-1", "the runner VM placed on mac-1");
      await daemon.heartbeat(runnerHost("mac-1", [{ vmId: vm.vmId, imageName: RUNNER_IMAGE }]));
      await eventually(async () => (await daemon.get(`/api/vms/${vm.vmId}`)).state === "running", "the runner VM running");

      // The runner takes the job.
      await deliver(daemon, "in_progress", { ...job, runnerName: `macvmorx-${vm.vmId}` });
      await page.click("#refresh-now");
      await waitForText(page, `${jobRow} [data-field="state"]`, "in progress");
      assert.equal(await page.getAttribute(jobRow, "data-marked"), "yes", "the row was updated in place");
      assert.equal(await text(page, "#count-jobs"), "0 queued");
      assert.equal(await text(page, `${jobRow} [data-field="runner"]`), `macvmorx-${vm.vmId}`);
      assert.equal(await text(page, `${jobRow} [data-field="vm"]`), vm.vmId);
      assert.equal(await text(page, `${jobRow} [data-field="node"]`), "mac-1");
      assert.equal(await page.getAttribute(jobRow, "data-waiting"), null);

      // Where the wait went: for the host, the VM and GitHub, as the API says.
      const started = (await daemon.get("/api/jobs/101"));
      assert.equal(started.state, "in_progress");
      assert.ok(started.waited.totalSeconds >= started.waited.forHostSeconds, JSON.stringify(started.waited));
      const wait = jobWait(started, Date.now());
      assert.ok(await page.locator(`${jobRow} [data-field="wait-parts"]`).isVisible());
      for (const phase of ["host", "vm", "runner"]) {
        assert.equal(await text(page, `${jobRow} [data-field="wait-${phase}"]`), formatRuntime(wait[phase]), phase);
      }
      assert.equal(await text(page, `${jobRow} [data-field="wait-total"]`), `${formatRuntime(wait.total)} in all`);
      const widths = await page.$$eval(`${jobRow} [data-segment]`, (spans) => spans.map((s) => parseFloat(s.style.width) || 0));
      assert.ok(Math.abs(widths.slice(0, 3).reduce((a, b) => a + b, 0) - 100) < 0.5 || wait.total === 0, `bar widths ${widths}`);
      assert.equal(widths[3], 0, "no open segment once the wait is over");
      assert.match(await page.getAttribute(`${jobRow} [data-field="wait-bar"]`, "aria-label"), /^Waited \d+s: host \d+s, VM \d+s, GitHub \d+s$/);
      assert.match(await text(page, `${jobRow} [data-field="ran"]`), /^\d+s$/);
      await screenshot(page, "jobs");

      // The job ends: its conclusion shows and the runner VM is deleted.
      await deliver(daemon, "completed", { ...job, runnerName: `macvmorx-${vm.vmId}`, conclusion: "success" });
      await page.click("#refresh-now");
      await waitForText(page, `${jobRow} [data-field="state"]`, "completed");
      assert.equal(await text(page, `${jobRow} [data-field="conclusion"]`), "success");
      assert.equal(await page.getAttribute(jobRow, "data-marked"), "yes", "still the same row");
      assert.equal(await page.locator("#job-rows > tr").count(), 1);

      // The tabs: the arrow keys go through all three.
      await page.focus("#tab-jobs");
      await page.keyboard.press("ArrowRight");
      assert.equal(await page.evaluate(() => document.activeElement.id), "tab-nodes", "from the last tab to the first");
      await page.locator(card("mac-1")).waitFor();
      await page.keyboard.press("ArrowLeft");
      assert.equal(await page.evaluate(() => document.activeElement.id), "tab-jobs");
      assert.equal(new URL(page.url()).searchParams.get("tab"), "jobs");
    },
  );
});

test("the state filter and the search pick jobs, and markup in a job is shown as text", async () => {
  const hostile = '<img src=x onerror="window.pwned=1">';
  await withJobs(
    {
      daemon: { name: "jobs-filter" },
      colorScheme: "dark",
      beforeOpen: async ({ daemon }) => {
        await deliver(daemon, "queued", { id: 201, repository: "acme/app", name: "test", workflowName: hostile });
        await deliver(daemon, "queued", { id: 202, repository: "acme/<b>tools</b>", name: "<script>window.pwned=2</script>", htmlUrl: "javascript:window.pwned=3" });
        await deliver(daemon, "in_progress", { id: 202, repository: "acme/<b>tools</b>", name: "<script>window.pwned=2</script>", runnerName: "someone-elses-runner" });
        await deliver(daemon, "queued", { id: 203, repository: "acme/web", name: "lint" });
        await deliver(daemon, "completed", { id: 203, repository: "acme/web", name: "lint", conclusion: "failure" });
        await deliver(daemon, "queued", { id: 204, repository: "acme/web", name: "deploy" });
      },
    },
    async ({ page }) => {
      await page.click("#tab-jobs");
      await page.locator(row(204)).waitFor();
      assert.equal(await text(page, "#count-jobs"), "2 queued");
      // Waiting and running first, oldest first; then completed.
      assert.deepEqual(await shownJobs(page), [201, 202, 204, 203]);
      assert.ok(await page.locator("#filter-image-field").isHidden(), "image and label filters are of nodes and VMs");
      assert.equal(await page.getAttribute("#filter-text", "placeholder"), "Repository, workflow, job, runner…");

      // Markup is text, and a link that is not a web address is no link.
      assert.equal(await text(page, `${row(201)} [data-field="link"]`), `${hostile} / test`);
      assert.equal(await text(page, `${row(202)} [data-field="link"]`), "CI / <script>window.pwned=2</script>");
      assert.equal(await text(page, `${row(202)} [data-field="repository"]`), "acme/<b>tools</b>");
      assert.equal(await page.getAttribute(`${row(202)} [data-field="link"]`, "href"), null, "javascript: is not linked");
      assert.equal(await page.$eval(`${row(202)} [data-field="link"]`, (a) => a.classList.contains("link")), false, "nor looks like a link");
      assert.equal(await text(page, `${row(202)} [data-field="runner"]`), "someone-elses-runner");
      assert.match(await text(page, `${row(202)} [data-field="wait-total"]`), /^\d+s in all$/, "a runner not of macvmorx: only the total is known");
      assert.equal(await text(page, `${row(203)} [data-field="conclusion"]`), "failure");
      assert.match(await text(page, `${row(203)} [data-field="wait-total"]`), /^\d+s, never started$/);
      assert.equal(await text(page, `${row(203)} [data-field="runner"]`), "no runner");
      const injected = await page.evaluate(() => ({
        elements: document.querySelectorAll("main img, main script, main b").length,
        pwned: window.pwned ?? null,
      }));
      assert.deepEqual(injected, { elements: 0, pwned: null });
      await screenshot(page, "jobs-dark");

      // By state, with each state's count; kept in the address.
      const choice = (state) => `#job-state-filter button[data-state-filter="${state}"]`;
      assert.equal(await text(page, choice("")), "all4");
      assert.equal(await text(page, choice("queued")), "queued2");
      assert.equal(await text(page, choice("in_progress")), "in progress1");
      assert.equal(await text(page, choice("completed")), "completed1");
      await page.click(choice("queued"));
      assert.equal(await page.getAttribute(choice("queued"), "aria-pressed"), "true");
      assert.deepEqual(await shownJobs(page), [201, 204]);
      assert.equal(await text(page, "#jobs-shown"), "(2 of 4)");
      assert.equal(new URL(page.url()).searchParams.get("jobstate"), "queued");
      await page.reload();
      await page.locator(row(204)).waitFor();
      assert.equal(await page.getAttribute("#tab-jobs", "aria-selected"), "true");
      assert.deepEqual(await shownJobs(page), [201, 204]);

      // The search reads the repository, names and runner; both filters apply.
      await page.fill("#filter-text", "acme/web");
      assert.deepEqual(await shownJobs(page), [204]);
      await page.click(choice("completed"));
      assert.deepEqual(await shownJobs(page), [203]);
      await page.click(choice(""));
      assert.deepEqual(await shownJobs(page), [204, 203]);
      await page.fill("#filter-text", "someone-elses");
      assert.deepEqual(await shownJobs(page), [202]);
      await page.fill("#filter-text", "nothing-like-this");
      assert.deepEqual(await shownJobs(page), []);
      assert.equal(await text(page, "#no-job-match"), "No job matches the filter.");
      await page.click("#filter-clear");
      assert.deepEqual(await shownJobs(page), [201, 202, 204, 203]);
      assert.equal(new URL(page.url()).search, "?tab=jobs");
    },
  );
});

test("without runner pools there is no Jobs view, and no error", async () => {
  await withDashboard({ daemon: { name: "no-jobs", offlineTimeout: "10m" }, path: "/?tab=jobs&jobstate=queued" }, async ({ daemon, page, count }) => {
    await daemon.heartbeat(runnerHost("mac-1"));
    await page.click("#refresh-now");
    await page.locator(card("mac-1")).waitFor();
    assert.ok(await page.locator("#tab-jobs").isHidden());
    assert.ok(await page.locator("#panel-jobs").isHidden());
    assert.ok(await page.locator("#jobs-json-link").isHidden());
    assert.equal(await page.getAttribute("#tab-nodes", "aria-selected"), "true", "a link to the Jobs view shows the nodes");
    assert.ok(await page.locator("#panel-nodes").isVisible());
    assert.ok(await page.locator("#connection-banner").isHidden());

    // Nothing says the daemon has runner pools (no runner VM, no image a pool wants): the page
    // does not ask /api/jobs, whose 404 the browser would log as an error (the harness fails
    // the test on any console error).
    await page.click("#refresh-now");
    await page.waitForFunction(() => !document.querySelector("#refresh-now").hasAttribute("aria-busy"));
    assert.ok(count("/api/nodes") >= 2);
    assert.equal(count("/api/jobs"), 0);

    // The tabs' keys skip the missing view.
    await page.focus("#tab-vms");
    await page.keyboard.press("ArrowRight");
    assert.equal(await page.evaluate(() => document.activeElement.id), "tab-nodes");
  });
});
