// GitHub Actions for the daemon under test: a runner pool in a configuration file, a fake
// GitHub on loopback that hands out just-in-time runner configurations, and signed
// workflow_job deliveries, as GitHub sends them.
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const RUNNER_IMAGE = "ghcr.io/acme/sonoma-runner:latest";
const SECRET = "browser-test-webhook-secret";

const POOLS = `[[pools]]
name = "sonoma"
runs_on = ["self-hosted", "macOS"]
image = "${RUNNER_IMAGE}"
scope = "org:acme"
`;

// Answers what the daemon asks of GitHub's REST API for org-scoped just-in-time runners.
async function startFakeGitHub() {
  let nextRunner = 1;
  const requests = [];
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      requests.push(`${request.method} ${request.url}`);
      if (request.method === "POST" && request.url === "/orgs/acme/actions/runners/generate-jitconfig") {
        response.writeHead(201, { "Content-Type": "application/json" });
        response.end(JSON.stringify({ runner: { id: nextRunner++ }, encoded_jit_config: "JIT" }));
      } else if (request.method === "DELETE" && /^\/orgs\/acme\/actions\/runners\/\d+$/.test(request.url)) {
        response.writeHead(204);
        response.end();
      } else {
        response.writeHead(404, { "Content-Type": "application/json" });
        response.end(JSON.stringify({ message: "Not Found" }));
      }
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

// A fake GitHub and the daemon arguments that connect to it; `close()` stops it and removes
// the files.
export async function startGitHub() {
  const github = await startFakeGitHub();
  const dir = mkdtempSync(join(tmpdir(), "macvmorx-browser-github-"));
  writeFileSync(join(dir, "pools.toml"), POOLS);
  writeFileSync(join(dir, "webhook-secret"), SECRET, { mode: 0o600 });
  writeFileSync(join(dir, "token"), "github_pat_browser_test", { mode: 0o600 });
  return {
    ...github,
    args: [
      "--config", join(dir, "pools.toml"),
      "--github-webhook-secret-file", join(dir, "webhook-secret"),
      "--github-token-file", join(dir, "token"),
      "--github-api-url", github.url,
    ],
    async close() {
      await github.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let deliveries = 0;

// Sends a signed workflow_job delivery (`action`: queued, in_progress, completed) about `job`:
// {id, runId, workflowName, name, repository, labels, htmlUrl, runnerName, conclusion}.
export async function deliver(daemon, action, job) {
  const body = JSON.stringify({
    action,
    workflow_job: {
      id: job.id,
      run_id: job.runId ?? job.id + 5000,
      workflow_name: job.workflowName ?? "CI",
      name: job.name ?? "build",
      labels: job.labels ?? ["self-hosted", "macOS"],
      html_url: job.htmlUrl ?? `https://github.com/${job.repository ?? "acme/app"}/actions/runs/${job.runId ?? job.id + 5000}/job/${job.id}`,
      runner_name: job.runnerName ?? null,
      conclusion: job.conclusion ?? null,
    },
    repository: { full_name: job.repository ?? "acme/app" },
  });
  const signature = createHmac("sha256", SECRET).update(body).digest("hex");
  const response = await fetch(`${daemon.url}/webhooks/github`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "X-GitHub-Event": "workflow_job",
      "X-GitHub-Delivery": `browser-${process.pid}-${++deliveries}`,
      "X-Hub-Signature-256": `sha256=${signature}`,
    },
    body,
  });
  const answer = await response.json();
  if (response.status !== 200) throw new Error(`delivery ${action} of job ${job.id}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

// A Mac that caches the runner image and reports `vms` ({vmId, imageName}) running.
export function runnerHost(nodeId, vms = []) {
  return {
    nodeId,
    vmCount: vms.length,
    vms: vms.map((vm) => ({ runtimeSeconds: 5, vmHostname: vm.vmId, vmIpAddress: "192.168.64.20", ...vm })),
    cpuUsagePercent: 12,
    memoryUsageGB: 6,
    totalMemoryGB: 32,
    diskUsageGB: 200,
    totalDiskGB: 1000,
    status: "healthy",
    cachedImages: [RUNNER_IMAGE],
    labels: { arch: "arm64" },
  };
}

// Polls `probe()` until it returns something truthy (the daemon's worker runs on its own).
export async function eventually(probe, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
