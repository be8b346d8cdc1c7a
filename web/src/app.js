// The dashboard: reads the fleet from the daemon's API, keeps the views up to date and
// remembers the operator's choices. Each view updates its elements in place (keyed by nodeId,
// vmId or jobId), so a refresh rewrites only what changed. When the daemon requires a token the
// page asks for one (SignIn), and shows the actions the token's role may take.

import { ApiError, canAdminister, canRead, fetchSnapshot, fetchWhoami, setNodeDrained } from "./api.js";
import { setAttr, setHidden, setText, setVariant } from "./dom.js";
import { filtersActive, indexSnapshot, nodeMatches, nodeVms, sortNodes } from "./fleet-model.js";
import { formatClock } from "./format.js";
import { JobView } from "./job-view.js";
import { NodeCards } from "./node-cards.js";
import { NodeTable } from "./node-table.js";
import { Poller } from "./poller.js";
import { REFRESH_CHOICES, forgetToken, readRefresh, readToken, readView, writeRefresh, writeToken, writeView } from "./settings.js";
import { Summary } from "./summary.js";
import { VmView } from "./vm-view.js";

const $ = (selector) => document.querySelector(selector);

const TABS = ["nodes", "vms", "jobs"];

const SEARCH_HINT = {
  nodes: "Node, image, label, VM, IP…",
  vms: "Node, image, label, VM, IP…",
  jobs: "Repository, workflow, job, runner…",
};

const QUEUED_COUNT = {
  none: "",
  some: "bg-amber-200 text-amber-900 dark:bg-amber-500/25 dark:text-amber-200",
};

const ROLE_BADGE = {
  viewer: "bg-slate-200 text-slate-700 dark:bg-slate-700 dark:text-slate-200",
  ci: "bg-sky-100 text-sky-900 dark:bg-sky-500/15 dark:text-sky-300",
  admin: "bg-violet-100 text-violet-900 dark:bg-violet-500/15 dark:text-violet-300",
  agent: "bg-slate-200 text-slate-700 dark:bg-slate-700 dark:text-slate-200",
};

// What a signed-out page shows of the fleet: nothing.
const NO_FLEET = {
  fleet: { nodes: { online: 0, offline: 0, draining: 0, total: 0 }, slots: { free: 0, total: 0, used: 0, reserved: 0 }, vms: {} },
  nodes: [],
  vms: [],
  queue: [],
};

const LIVE_DOT = {
  loading: "bg-slate-400",
  live: "bg-emerald-500",
  manual: "bg-sky-500",
  lost: "bg-rose-500 animate-pulse",
};

class Dashboard {
  constructor() {
    this.view = readView();
    this.snapshot = undefined;
    this.index = undefined;
    this.clockOffset = 0; // the daemon's clock minus the browser's, in ms
    this.lastSuccess = undefined;
    // Whether the daemon has GitHub Actions runner pools (and so a Jobs view): undefined until
    // its first answer to /api/jobs, which is 404 without pools. Asked again after a lost
    // connection, since the daemon may have been restarted with other options.
    this.jobsOffered = undefined;
    this.jobs = [];

    // Who the page acts as (GET /api/whoami: {authRequired, name, role}): undefined until the
    // daemon said, and again after it refused the token. `session` counts sign-ins and
    // sign-outs; an answer to a refresh started in an earlier session is dropped.
    this.token = readToken();
    this.access = undefined;
    this.session = 0;
    this.loadSession = 0;

    const onDrain = (nodeId, drained) => this.drain(nodeId, drained);
    this.summary = new Summary($("header"));
    this.cards = new NodeCards($("#node-grid"), { onDrain });
    this.table = new NodeTable($("#node-rows"), { onDrain, actionsHead: $("#node-actions-head") });
    this.vmView = new VmView($("#panel-vms"), { onStateChosen: (state) => this.change({ vmState: state }) });
    this.jobView = new JobView($("#panel-jobs"), { onStateChosen: (state) => this.change({ jobState: state }) });

    this.signIn = new SignIn({ onToken: (token) => this.tryToken(token) });

    this.poller = new Poller({
      load: () => this.load(),
      onData: (snapshot) => this.receive(snapshot),
      onError: (error) => this.fail(error),
      onBusy: (busy) => setAttr($("#refresh-now"), "aria-busy", busy ? "true" : false),
    });

    this.bindControls();
    this.showView();
    this.showCurlExample();

    const interval = readRefresh();
    $("#refresh-interval").value = String(interval);
    this.poller.setInterval(interval);
    this.poller.refreshNow();
    setInterval(() => this.tick(), 1000);
  }

  now() {
    return Date.now() + this.clockOffset;
  }

  // One refresh: who the token is (once), then the fleet.
  async load() {
    this.loadSession = this.session;
    const token = this.token;
    if (!this.access) {
      const access = await fetchWhoami(token);
      if (this.loadSession === this.session) this.setAccess(access);
    }
    if (!canRead(this.access.role)) throw refusedRole(this.access);
    return fetchSnapshot({ jobs: this.jobsOffered !== false, token });
  }

  setAccess(access) {
    this.access = access;
    const signedIn = Boolean(access?.authRequired);
    setHidden($("#account"), !signedIn);
    if (signedIn) {
      setText($("#account-name"), access.name ?? "");
      setText($("#account-role"), access.role);
      setVariant($("#account-role"), ROLE_BADGE, access.role);
    }
    // A link opened in the browser carries no token: the JSON links are of an open daemon.
    setHidden($("#json-links"), signedIn);
    const actions = Boolean(access) && canAdminister(access.role);
    this.cards.showActions(actions);
    this.table.showActions(actions);
    this.showCurlExample();
  }

  // The operator entered a token: resolves to a message when it is refused, else signs in.
  async tryToken(token) {
    let access;
    try {
      access = await fetchWhoami(token);
    } catch (error) {
      return refusalMessage(error, { entered: true });
    }
    if (access.authRequired && !canRead(access.role)) return refusedRole(access).detail;
    this.session++;
    this.token = access.authRequired ? token : "";
    if (this.token) writeToken(this.token);
    this.setAccess(access);
    this.signIn.hide();
    this.showSignedIn(true);
    this.poller.resume();
    return undefined;
  }

  // Forgets the token and the fleet it showed, and asks for a token (saying why, if `message`).
  signOut(message) {
    this.session++;
    this.token = "";
    forgetToken();
    this.setAccess(undefined);
    this.poller.pause();
    this.clearFleet();
    this.showSignedIn(false);
    this.signIn.show(message);
  }

  showSignedIn(signedIn) {
    setHidden($("#totals"), !signedIn);
    setHidden($("#refresh-controls"), !signedIn);
    setHidden($("#fleet-view"), !signedIn);
    setHidden($("#page-footer"), !signedIn);
    setHidden($("#action-banner"), true);
    if (!signedIn) setHidden($("#connection-banner"), true);
  }

  clearFleet() {
    const index = indexSnapshot(NO_FLEET);
    this.summary.update(NO_FLEET.fleet);
    this.cards.clear();
    this.table.clear();
    this.vmView.update(NO_FLEET, index, this.view, 0);
    this.jobView.update([], this.view, 0);
    this.snapshot = undefined;
    this.index = undefined;
    this.jobs = [];
    this.lastSuccess = undefined;
    this.error = undefined;
    this.syncOptions();
    this.showConnection();
  }

  // Drains or undrains a node (the node's Drain/Undrain button), then refreshes.
  async drain(nodeId, drained) {
    const session = this.session;
    const verb = drained ? "drain" : "undrain";
    try {
      await setNodeDrained(nodeId, drained, this.token);
      if (session === this.session) setHidden($("#action-banner"), true);
    } catch (error) {
      if (session !== this.session) return;
      if (error instanceof ApiError && (error.status === 401 || error.status === 429)) {
        this.signOut(refusalMessage(error, { entered: false }));
        return;
      }
      const reason = error instanceof TypeError ? "the daemon cannot be reached" : error.detail || error.message;
      setText($("#action-message"), `Could not ${verb} ${nodeId}: ${reason}.`);
      setHidden($("#action-banner"), false);
    }
    await this.poller.refreshAfterChange();
  }

  bindControls() {
    $("#refresh-interval").addEventListener("change", (event) => {
      const seconds = Number(event.target.value);
      if (!REFRESH_CHOICES.includes(seconds)) return;
      writeRefresh(seconds);
      this.poller.setInterval(seconds);
      this.showConnection();
    });
    $("#refresh-now").addEventListener("click", () => this.poller.refreshNow());
    $("#sign-out").addEventListener("click", () => this.signOut("Signed out. The token is forgotten in this tab."));
    $("#action-dismiss").addEventListener("click", () => setHidden($("#action-banner"), true));

    const text = $("#filter-text");
    text.addEventListener("input", () => this.change({ q: text.value }));
    text.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        if (text.value) this.change({ q: (text.value = "") });
        else text.blur();
      }
    });
    $("#filter-state").addEventListener("change", (event) => this.change({ state: event.target.value }));
    $("#filter-image").addEventListener("change", (event) => this.change({ image: event.target.value }));
    $("#filter-label").addEventListener("change", (event) => this.change({ label: event.target.value }));
    $("#filters").addEventListener("submit", (event) => event.preventDefault());
    $("#filters").addEventListener("reset", (event) => {
      event.preventDefault();
      this.change({ q: "", state: "", image: "", label: "", vmState: "", jobState: "" });
    });

    $("#layout-cards").addEventListener("click", () => this.change({ layout: "cards" }));
    $("#layout-table").addEventListener("click", () => this.change({ layout: "table" }));

    for (const name of TABS) {
      const tab = $(`#tab-${name}`);
      tab.addEventListener("click", () => this.change({ tab: name }));
      tab.addEventListener("keydown", (event) => {
        if (!["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
        event.preventDefault();
        const tabs = this.shownTabs();
        const i = tabs.indexOf(name);
        const step = event.key === "ArrowLeft" ? tabs.length - 1 : 1;
        const next = event.key === "Home" ? tabs[0] : event.key === "End" ? tabs.at(-1) : tabs[(i + step) % tabs.length];
        this.change({ tab: next });
        $(`#tab-${next}`).focus();
      });
    }

    document.addEventListener("keydown", (event) => {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target;
      const typing = target instanceof HTMLInputElement || target instanceof HTMLSelectElement || target instanceof HTMLTextAreaElement;
      if (typing || this.signIn.shown()) return;
      if (event.key === "/") {
        event.preventDefault();
        text.focus();
        text.select();
      } else if (event.key === "r") {
        event.preventDefault();
        this.poller.refreshNow();
      }
    });
  }

  // Applies a change of the operator's choices, keeps it in the URL and redraws.
  change(patch) {
    this.view = { ...this.view, ...patch };
    writeView(this.view);
    this.showView();
    this.render();
  }

  // The tabs the page offers: Jobs only when the daemon has runner pools.
  shownTabs() {
    return this.jobsOffered ? TABS : TABS.filter((name) => name !== "jobs");
  }

  // The view shown: the one chosen, but Nodes while the daemon is not known to have a Jobs view.
  currentTab() {
    return this.view.tab === "jobs" && !this.jobsOffered ? "nodes" : this.view.tab;
  }

  // Puts the controls in line with the current choices.
  showView() {
    const { layout } = this.view;
    const tab = this.currentTab();
    for (const name of TABS) {
      const selected = name === tab;
      setAttr($(`#tab-${name}`), "aria-selected", String(selected));
      setAttr($(`#tab-${name}`), "tabindex", selected ? false : "-1");
      setHidden($(`#panel-${name}`), !selected);
    }
    setHidden($("#tab-jobs"), !this.jobsOffered);
    setHidden($("#jobs-json-link"), !this.jobsOffered);
    const nodes = tab === "nodes";
    setHidden($("#layout-switch"), !nodes);
    setHidden($("#filter-state-field"), !nodes);
    setHidden($("#filter-image-field"), tab === "jobs");
    setHidden($("#filter-label-field"), tab === "jobs");
    setAttr($("#filter-text"), "placeholder", SEARCH_HINT[tab]);
    setAttr($("#layout-cards"), "aria-pressed", String(layout === "cards"));
    setAttr($("#layout-table"), "aria-pressed", String(layout === "table"));

    const text = $("#filter-text");
    if (text.value !== this.view.q) text.value = this.view.q;
    $("#filter-state").value = this.view.state;
    setAttr($("#filter-clear"), "disabled", !filtersActive(this.view));
    this.syncOptions();
  }

  // Fills the image and label selects with what the fleet has (and the chosen value, even if
  // no node has it right now, so a filter from the URL is never silently dropped).
  syncOptions() {
    const images = this.index?.images ?? [];
    const labels = this.index?.labels ?? [];
    syncSelect($("#filter-image"), images, this.view.image);
    syncSelect($("#filter-label"), labels, this.view.label);
  }

  receive(snapshot) {
    if (this.loadSession !== this.session) return;
    this.snapshot = snapshot;
    this.index = indexSnapshot(snapshot);
    if (snapshot.jobs !== undefined) {
      const offered = snapshot.jobs !== null;
      this.jobs = offered ? snapshot.jobs : [];
      if (offered !== this.jobsOffered) {
        this.jobsOffered = offered;
        this.showView();
      }
    }
    const generated = Date.parse(snapshot.fleet.generatedAt);
    if (Number.isFinite(generated)) this.clockOffset = generated - snapshot.receivedAt;
    this.lastSuccess = new Date(snapshot.receivedAt);
    this.error = undefined;
    this.syncOptions();
    this.render();
    this.showConnection();
  }

  fail(error) {
    if (this.loadSession !== this.session) return;
    if (error instanceof ApiError && [401, 403, 429].includes(error.status)) {
      let message = refusalMessage(error, { entered: false });
      if (error.status === 401 && !this.token) {
        // On a first visit the prompt needs to say no more than how to sign in.
        message = this.lastSuccess ? "The daemon now requires a token to show the fleet." : undefined;
      }
      this.signOut(message);
      return;
    }
    this.error = error;
    if (this.jobsOffered === false) this.jobsOffered = undefined;
    this.showConnection();
  }

  showConnection() {
    const manual = this.poller.intervalSeconds <= 0;
    const banner = $("#connection-banner");
    const state = this.error ? "lost" : !this.lastSuccess ? "loading" : manual ? "manual" : "live";
    setVariant($("#live-dot"), LIVE_DOT, state);
    setAttr(document.body, "data-connection", state);
    setText($("#updated"), this.lastSuccess ? `Updated ${formatClock(this.lastSuccess)}` : this.error ? "No data" : "Loading…");
    setHidden(banner, !this.error);
    if (this.error) {
      const reason = this.error instanceof TypeError ? "the daemon cannot be reached" : this.error.message;
      const shown = this.lastSuccess ? `Showing the data of ${formatClock(this.lastSuccess)}.` : "No data yet.";
      const retry = manual ? "Press Refresh now to try again." : "Retrying by itself.";
      setText($("#connection-message"), `Connection lost: ${reason}. ${shown} ${retry}`);
    }
  }

  render() {
    if (!this.snapshot) return;
    const { snapshot, index, view } = this;
    const now = this.now();
    this.summary.update(snapshot.fleet);
    setText($("#count-nodes"), snapshot.nodes.length);
    setText($("#count-vms"), snapshot.vms.length);
    const queued = this.jobs.filter((job) => job.state === "queued").length;
    setText($("#count-jobs"), `${queued} queued`);
    setVariant($("#count-jobs"), QUEUED_COUNT, queued > 0 ? "some" : "none");

    const tab = this.currentTab();
    if (tab === "nodes") this.renderNodes(now);
    else {
      this.cards.clear();
      this.table.clear();
      if (tab === "vms") this.vmView.update(snapshot, index, view, now);
      else this.jobView.update(this.jobs, view, now);
    }
  }

  renderNodes(now) {
    const { snapshot, index, view } = this;
    const empty = snapshot.nodes.length === 0;
    const items = [];
    for (const node of sortNodes(snapshot.nodes)) {
      const vms = nodeVms(node, index.recordsById, index.placedByNode);
      if (nodeMatches(node, vms, view)) items.push({ node, vms });
    }
    setHidden($("#empty-fleet"), !empty);
    setHidden($("#no-node-match"), empty || items.length > 0);
    const shown = $("#nodes-shown");
    setHidden(shown, empty || !filtersActive(view));
    setText(shown, `Showing ${items.length} of ${snapshot.nodes.length} nodes`);

    const cards = view.layout === "cards";
    setHidden($("#node-grid"), !cards);
    setHidden($("#node-table-wrap"), cards || empty || items.length === 0);
    // Only the visible layout keeps elements: 500 nodes are not kept twice.
    if (cards) {
      this.table.clear();
      this.cards.update(items, now);
    } else {
      this.cards.clear();
      this.table.update(items, now);
    }
  }

  tick() {
    if (!this.snapshot) return;
    const now = this.now();
    const tab = this.currentTab();
    if (tab === "nodes") {
      this.cards.tick(now);
      this.table.tick(now);
    } else if (tab === "vms") {
      this.vmView.tick(now);
    } else {
      this.jobView.tick(now);
    }
  }

  showCurlExample() {
    const body = {
      nodeId: "mac-mini-001",
      vmCount: 0,
      vms: [],
      cpuUsagePercent: 10.5,
      memoryUsageGB: 4.0,
      totalMemoryGB: 16.0,
      diskUsageGB: 100.0,
      totalDiskGB: 500.0,
      status: "idle",
      cachedImages: ["macos-sonoma-runner"],
      labels: { arch: "arm64" },
    };
    const json = JSON.stringify(body, null, 2).replace(/\n/g, "\n  ");
    const auth = this.access?.authRequired ? `-H "Authorization: Bearer $AGENT_TOKEN" ` : "";
    const command = `curl -X POST ${auth}-H "Content-Type: application/json" -d '${json}' \\\n  ${location.origin}/api/heartbeat`;
    setText($("#curl-example"), command);
  }
}

// The panel that asks for a token: a password input and a button (no <form>: the page's policy
// allows no form submission). `onToken(token)` resolves to a message when the token is refused.
class SignIn {
  constructor({ onToken }) {
    this.root = $("#sign-in");
    this.input = $("#token-input");
    this.submit = $("#sign-in-submit");
    this.message = $("#sign-in-message");
    this.onToken = onToken;
    this.submit.addEventListener("click", () => this.send());
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        this.send();
      }
    });
  }

  shown() {
    return !this.root.hidden;
  }

  show(message) {
    setHidden(this.root, false);
    this.say(message);
    this.input.value = "";
    this.input.focus();
  }

  hide() {
    setHidden(this.root, true);
    this.input.value = "";
    this.say(undefined);
  }

  say(message) {
    setText(this.message, message ?? "");
    setHidden(this.message, !message);
  }

  async send() {
    if (this.submit.disabled) return;
    const token = this.input.value.trim();
    if (!token) return this.refuse("Enter a token.");
    // A header value carries no spaces or other characters than printable ASCII.
    if (!/^[\x21-\x7e]+$/.test(token)) return this.refuse("That is not a token: a token has no spaces and no accented letters.");
    this.submit.disabled = true;
    setAttr(this.submit, "aria-busy", "true");
    setText(this.submit, "Signing in…");
    try {
      const refused = await this.onToken(token);
      if (refused) this.refuse(refused);
    } finally {
      this.submit.disabled = false;
      setAttr(this.submit, "aria-busy", false);
      setText(this.submit, "Sign in");
    }
  }

  refuse(message) {
    this.say(message);
    this.input.select();
    this.input.focus();
  }
}

// Why the daemon refused a token, for the sign-in panel. `entered`: the operator just typed it
// (else the page had kept it, or had none).
function refusalMessage(error, { entered }) {
  if (error instanceof ApiError) {
    if (error.status === 429) {
      const wait = Number.isFinite(error.retryAfter) ? `${error.retryAfter} s` : "a minute";
      return `Too many wrong tokens came from this address: the daemon refuses every token for now. Wait ${wait}, then sign in again.`;
    }
    if (error.status === 401) {
      return entered
        ? "The daemon does not accept that token: check that it was copied whole, or ask for a new one."
        : "The daemon no longer accepts the token (it was removed from the tokens file, or the daemon restarted with other tokens). Sign in again.";
    }
    if (error.status === 403) return error.detail || "This token may not read the fleet.";
    return `The daemon answered ${error.status}${error.detail ? `: ${error.detail}` : ""}. Try again.`;
  }
  return error instanceof TypeError ? "The daemon cannot be reached. Try again." : `${error.message}. Try again.`;
}

// The 403 of a token that may not read the fleet (an agent's), without asking the daemon.
function refusedRole(access) {
  const detail = `The token "${access.name}" has the role ${access.role}, which may not read the fleet: sign in with a viewer, ci or admin token.`;
  return new ApiError("/api/whoami", 403, { error: "forbidden", detail });
}

function syncSelect(select, values, chosen) {
  const wanted = ["", ...values];
  if (chosen && !values.includes(chosen)) wanted.push(chosen);
  const current = [...select.options].map((option) => option.value);
  if (current.length !== wanted.length || current.some((value, i) => value !== wanted[i])) {
    const options = wanted.map((value) => {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = value || "Any";
      return option;
    });
    select.replaceChildren(...options);
  }
  if (select.value !== chosen) select.value = chosen;
}

new Dashboard();
