// What the operator chose, kept across reloads: the view and the filters in the URL (so a link
// or a bookmark on the wall screen shows the same thing), the refresh interval in localStorage
// (a preference of the screen, not of the link), and the API token in sessionStorage only: it
// survives a reload of this tab, but not closing it, and never reaches the URL or localStorage.

export const REFRESH_CHOICES = [5, 30, 60, 0]; // seconds; 0 is manual
const DEFAULT_REFRESH = 5;
const STORAGE_KEY = "macvmorx.dashboard.refresh";
const TOKEN_KEY = "macvmorx.dashboard.token";
const POOLS_KEY = "macvmorx.dashboard.pools";

export const DEFAULT_VIEW = {
  tab: "nodes", // nodes | vms | jobs
  layout: "cards", // cards | table | overview
  group: "", // the label key the overview groups by ("" none)
  q: "",
  state: "", // node state filter
  image: "",
  label: "",
  vmState: "",
  jobState: "",
};

const URL_NAMES = { tab: "tab", layout: "layout", group: "group", q: "q", state: "state", image: "image", label: "label", vmState: "vmstate", jobState: "jobstate" };

export function readView(search = location.search) {
  const params = new URLSearchParams(search);
  const view = { ...DEFAULT_VIEW };
  for (const [key, name] of Object.entries(URL_NAMES)) {
    const value = params.get(name);
    if (value != null) view[key] = value;
  }
  if (view.tab !== "vms" && view.tab !== "jobs") view.tab = "nodes";
  if (view.layout !== "table" && view.layout !== "overview") view.layout = "cards";
  return view;
}

// The query string of a view: only what differs from the defaults.
export function viewQuery(view) {
  const params = new URLSearchParams();
  for (const [key, name] of Object.entries(URL_NAMES)) {
    if (view[key] && view[key] !== DEFAULT_VIEW[key]) params.set(name, view[key]);
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

export function writeView(view) {
  const query = viewQuery(view);
  if (query !== location.search) history.replaceState(null, "", `${location.pathname}${query}${location.hash}`);
}

export function readRefresh() {
  try {
    const stored = Number(localStorage.getItem(STORAGE_KEY));
    if (localStorage.getItem(STORAGE_KEY) != null && REFRESH_CHOICES.includes(stored)) return stored;
  } catch {
    // Storage may be disabled; the default does.
  }
  return DEFAULT_REFRESH;
}

export function writeRefresh(seconds) {
  try {
    localStorage.setItem(STORAGE_KEY, String(seconds));
  } catch {
    // Not kept then; the choice still applies to this page.
  }
}

// The token this tab signed in with, or "" when there is none.
export function readToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? "";
  } catch {
    return "";
  }
}

export function writeToken(token) {
  try {
    sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Not kept then: a reload asks for the token again.
  }
}

export function forgetToken() {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Nothing was kept.
  }
}

// Whether this daemon (this origin) had runner pools when the page last asked: the page then
// reads /api/jobs from the start, without waiting for a sign of pools.
export function readPools() {
  try {
    return localStorage.getItem(POOLS_KEY) === "yes";
  } catch {
    return false;
  }
}

export function writePools(pools) {
  try {
    if (pools) localStorage.setItem(POOLS_KEY, "yes");
    else localStorage.removeItem(POOLS_KEY);
  } catch {
    // Not kept: the page waits for a sign of pools again.
  }
}
