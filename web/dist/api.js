// Reading the daemon's JSON API. The page talks to nothing else.

const TIMEOUT_MS = 10_000;

// `absentOn404`: a 404 means the daemon does not offer this part (resolves to null).
async function getJson(path, signal, { absentOn404 = false } = {}) {
  const response = await fetch(path, { signal, headers: { Accept: "application/json" }, cache: "no-store" });
  if (absentOn404 && response.status === 404) return null;
  if (!response.ok) {
    let detail = "";
    try {
      const body = await response.json();
      detail = body.error ? `: ${body.error}` : "";
    } catch {
      // Not JSON: the status says enough.
    }
    throw new Error(`${path} answered ${response.status}${detail}`);
  }
  return response.json();
}

// Everything one refresh shows, read in parallel. Rejects when any part fails, so the page
// never mixes a new node list with old totals. With `jobs`, GitHub Actions jobs are read too:
// `snapshot.jobs` is their list, or null when the daemon runs without runner pools (it answers
// /api/jobs with 404 then); without `jobs` it is undefined.
export async function fetchSnapshot({ jobs = false } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error("the daemon did not answer within 10 s")), TIMEOUT_MS);
  try {
    const [fleet, nodes, vms, queue, jobList] = await Promise.all([
      getJson("/api/fleet", controller.signal),
      getJson("/api/nodes", controller.signal),
      getJson("/api/vms", controller.signal),
      getJson("/api/queue", controller.signal),
      jobs ? getJson("/api/jobs", controller.signal, { absentOn404: true }) : undefined,
    ]);
    return { fleet, nodes, vms, queue, jobs: jobList, receivedAt: Date.now() };
  } catch (error) {
    controller.abort();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
