// The daemon's JSON API: reading the fleet, who the token belongs to, and draining a node. The
// page talks to nothing else. With a token (the daemon runs with --tokens-file), every request
// carries it as `Authorization: Bearer`; without one the daemon must be open.

const TIMEOUT_MS = 10_000;

// An answer other than 2xx. `status` is the HTTP status, `error` and `detail` the daemon's JSON
// error (empty when the body is not JSON), `retryAfter` the seconds of a Retry-After header.
export class ApiError extends Error {
  constructor(path, status, { error = "", detail = "" } = {}, retryAfter = NaN) {
    super(`${path} answered ${status}${error ? `: ${error}` : ""}`);
    this.name = "ApiError";
    this.path = path;
    this.status = status;
    this.error = error;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }
}

function headers(token) {
  const list = { Accept: "application/json" };
  if (token) list.Authorization = `Bearer ${token}`;
  return list;
}

async function apiError(path, response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // Not JSON: the status says enough.
  }
  const retryAfter = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
  return new ApiError(path, response.status, typeof body === "object" && body ? body : {}, retryAfter);
}

// Reads are revalidated ("no-cache"): the browser keeps the last answer and asks with its ETag,
// so a listing that did not change comes back as 304 Not Modified and the kept body is used.
async function request(path, { method = "GET", token, signal } = {}) {
  const response = await fetch(path, { method, signal, headers: headers(token), cache: method === "GET" ? "no-cache" : "no-store" });
  if (!response.ok) throw await apiError(path, response);
  return response.json();
}

// A listing (GET /api/nodes, /api/vms, /api/jobs) as what changed since `revision` (undefined:
// everything). The daemon answers {revision, full, <name>: [...], removed: [...]}: `full`, the
// whole list; else the items that changed since and the IDs removed. A daemon that predates
// deltas answers the plain array: that is the whole list, without a revision.
async function requestListing(path, name, revision, options) {
  const answer = await request(`${path}?since=${encodeURIComponent(revision ?? "")}`, options);
  if (Array.isArray(answer)) return { revision: undefined, full: true, items: answer, removed: [] };
  if (!answer || typeof answer !== "object" || !Array.isArray(answer[name])) throw new Error(`${path} answered no ${name}`);
  return {
    revision: typeof answer.revision === "string" ? answer.revision : undefined,
    full: answer.full !== false || typeof answer.revision !== "string",
    items: answer[name],
    removed: Array.isArray(answer.removed) ? answer.removed.map(String) : [],
  };
}

// Runs `body(signal)`, aborting its requests after 10 s.
async function withTimeout(body) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error("the daemon did not answer within 10 s")), TIMEOUT_MS);
  try {
    return await body(controller.signal);
  } catch (error) {
    controller.abort();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

// Which daemon the page talks to and its role, from /readyz: {role, daemon, leader} (a daemon
// alone: role "leader", no daemon URL). A follower or a leader without its database answers 503
// with the same body, which is read all the same; null when there is no answer to read.
async function readDaemon(signal) {
  try {
    const response = await fetch("/readyz", { signal, cache: "no-store" });
    const body = await response.json();
    return typeof body === "object" && body && typeof body.role === "string" ? body : null;
  } catch {
    return null;
  }
}

// An optional part of the API: null when the daemon answers 404 (it has no such part).
function optional(answer) {
  return answer.catch((error) => {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  });
}

// Everything one refresh shows, read in parallel. Rejects when any part fails, so the page
// never mixes a new node list with old totals. `revisions` ({nodes, vms, jobs}) are those of the
// page's copies: `snapshot.nodes`, `.vms` and `.jobs` are what changed since ({revision, full,
// items, removed}, see requestListing). With `jobs`, GitHub Actions jobs are read too:
// `snapshot.jobs` is null when the daemon runs without runner pools (it answers /api/jobs with
// 404 then); without `jobs` it is undefined. With `images`, so is the image distribution:
// `snapshot.images` is GET /api/images, or null from a daemon that predates it. With `history`,
// `snapshot.history` is GET /api/fleet/history (the fleet's last hours), null likewise; with
// `historyAfter` (the time of the last sample the page has), only the samples taken after it
// (a daemon that predates ?after= answers them all: the page keeps each sample once). Without
// `queue`, `snapshot.queue` (GET /api/queue) is undefined; without `daemon`, so is
// `snapshot.daemon` (/readyz): each costs the browser a request, and the page needs them seldom.
export function fetchSnapshot({ jobs = false, images = false, history = false, historyAfter, queue = true, daemon = true, token = "", revisions = {} } = {}) {
  return withTimeout(async (signal) => {
    const options = { token, signal };
    const [fleet, nodes, vms, queueRead, jobsRead, imagesRead, historyRead, daemonRead] = await Promise.all([
      request("/api/fleet", options),
      requestListing("/api/nodes", "nodes", revisions.nodes, options),
      requestListing("/api/vms", "vms", revisions.vms, options),
      queue ? request("/api/queue", options) : undefined,
      jobs ? optional(requestListing("/api/jobs", "jobs", revisions.jobs, options)) : undefined,
      images ? optional(request("/api/images", options)) : undefined,
      history ? optional(request(historyPath(historyAfter), options)) : undefined,
      daemon ? readDaemon(signal) : undefined,
    ]);
    return { fleet, nodes, vms, queue: queueRead, jobs: jobsRead, images: imagesRead, history: historyRead, daemon: daemonRead, receivedAt: Date.now() };
  });
}

const historyPath = (after) => (after ? `/api/fleet/history?after=${encodeURIComponent(after)}` : "/api/fleet/history");

// The fleet's last hours (GET /api/fleet/history) alone: null from a daemon without it (404).
export function fetchHistory(token = "") {
  return withTimeout((signal) => optional(request(historyPath(undefined), { token, signal })));
}

// Who the token is: {authRequired, name, role, nodes}. An open daemon answers authRequired
// false and role admin; one without tokens is answered so too (it predates /api/whoami, 404).
// Rejects with a 401 ApiError when a token is required and `token` is missing or wrong.
export function fetchWhoami(token = "") {
  return withTimeout(async (signal) => {
    try {
      return await request("/api/whoami", { token, signal });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return { authRequired: false, name: null, role: "admin" };
      throw error;
    }
  });
}

// Drains a node (no new VMs; its VMs run to the end) or undrains it. Resolves to the node.
export function setNodeDrained(nodeId, drained, token = "") {
  const path = `/api/nodes/${encodeURIComponent(nodeId)}/${drained ? "drain" : "undrain"}`;
  return withTimeout((signal) => request(path, { method: "POST", token, signal }));
}
