// Reading the daemon's JSON API. The page talks to nothing else.

const TIMEOUT_MS = 10_000;

async function getJson(path, signal) {
  const response = await fetch(path, { signal, headers: { Accept: "application/json" }, cache: "no-store" });
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
// never mixes a new node list with old totals.
export async function fetchSnapshot() {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error("the daemon did not answer within 10 s")), TIMEOUT_MS);
  try {
    const [fleet, nodes, vms, queue] = await Promise.all([
      getJson("/api/fleet", controller.signal),
      getJson("/api/nodes", controller.signal),
      getJson("/api/vms", controller.signal),
      getJson("/api/queue", controller.signal),
    ]);
    return { fleet, nodes, vms, queue, receivedAt: Date.now() };
  } catch (error) {
    controller.abort();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
