// The dashboard: reads the fleet from the daemon's API, keeps the views up to date and
// remembers the operator's choices. Each view updates its elements in place (keyed by nodeId,
// vmId or jobId), so a refresh rewrites only what changed. Who the page acts as (a token, when the
// daemon requires one) is the Session's; what a node's Drain button does, NodeActions'.

import { fetchHistory, fetchSnapshot } from "./api.js";
import { setAttr, setHidden, setText, setVariant } from "./dom.js";
import { filtersActive, labelKeys } from "./fleet-model.js";
import { FleetStore } from "./fleet-store.js";
import { formatClock } from "./format.js";
import { HistoryCharts } from "./history-charts.js";
import { JobView } from "./job-view.js";
import { NodeActions } from "./node-actions.js";
import { NodeCards } from "./node-cards.js";
import { NodeTable } from "./node-table.js";
import { NodeOverview } from "./overview.js";
import { Poller } from "./poller.js";
import { Session } from "./session.js";
import { REFRESH_CHOICES, readPools, readRefresh, readView, writePools, writeRefresh, writeView } from "./settings.js";
import { Summary } from "./summary.js";
import { VmView } from "./vm-view.js";

const $ = (selector) => document.querySelector(selector);

const TABS = ["nodes", "vms", "jobs"];

const SEARCH_HINT = {
  nodes: "Node, image, label, VM, IP…",
  vms: "Node, image, label, VM, IP…",
  jobs: "Repository, workflow, job, runner…",
};

// The daemon's role: green while it leads; the colours of an offline node otherwise.
const DAEMON_ROLE = {
  leader: "bg-emerald-100 text-emerald-800 dark:bg-emerald-500/15 dark:text-emerald-300",
  other: "bg-amber-200 text-amber-900 dark:bg-amber-500/25 dark:text-amber-200",
};

const QUEUED_COUNT = {
  none: "",
  some: "bg-amber-200 text-amber-900 dark:bg-amber-500/25 dark:text-amber-200",
};

// What a signed-out page shows of the fleet: nothing.
const NO_FLEET = { nodes: { online: 0, offline: 0, draining: 0, total: 0 }, slots: { free: 0, total: 0, used: 0, reserved: 0 }, vms: {} };

const LIVE_DOT = {
  loading: "bg-slate-400",
  live: "bg-emerald-500",
  manual: "bg-sky-500",
  lost: "bg-rose-500 animate-pulse",
};

// How far back the charts go: as far as the daemon keeps its samples.
const HISTORY_SPAN_MS = 6 * 3600 * 1000;

// How often the daemon's role is read again (a follower that became the leader).
const DAEMON_EVERY_MS = 60_000;

class Dashboard {
  constructor() {
    this.view = readView();
    // The fleet as last read: what each refresh changed, merged (see fleet-store.js).
    this.store = new FleetStore();
    this.clockOffset = 0; // the daemon's clock minus the browser's, in ms
    this.lastSuccess = undefined;
    // Whether the daemon has GitHub Actions runner pools (and so a Jobs view): undefined until
    // it answers /api/jobs, which is 404 without pools. The browser logs a 404 as an error, so
    // the page asks only when it has a reason to think there are pools (see asksForJobs); and
    // again after a lost connection, since the daemon may have been restarted with other options.
    this.jobsOffered = undefined;
    // Likewise whether it tells how its images are spread (/api/images, 404 from a daemon that
    // predates it), and its last answer there.
    this.imagesOffered = undefined;
    this.images = undefined;
    // And whether it keeps the fleet's last hours (/api/fleet/history), and its last answer. A
    // daemon that predates it answers 404, which the browser would log as an error; it also
    // predates the listings' deltas, so the page asks only a daemon whose listings have revisions.
    this.historyOffered = undefined;
    this.history = undefined;
    this.historyRead = undefined; // the session.id of a read of the history alone under way
    // When the daemon's role (/readyz) was last read, and whether the last refresh read the
    // queue: each is a request of its own, asked only when it is shown (see load).
    this.daemonReadAt = -Infinity;
    this.queueRead = false;

    // The session.id a refresh was started under: its answer is dropped under another.
    this.loadSession = 0;

    this.session = new Session({
      signInRoot: $("#sign-in"),
      accountRoot: $("#account"),
      onAccess: () => this.showAccess(),
      onSignedIn: () => {
        this.showSignedIn(true);
        this.poller.resume();
      },
      onSignedOut: () => {
        this.poller.pause();
        this.clearFleet();
        this.showSignedIn(false);
      },
    });
    this.nodeActions = new NodeActions($("#action-banner"), {
      session: this.session,
      afterChange: () => this.poller.refreshAfterChange(),
    });

    const onDrain = (nodeId, drained) => this.nodeActions.drain(nodeId, drained);
    this.summary = new Summary($("header"));
    this.cards = new NodeCards($("#node-grid"), { onDrain });
    this.table = new NodeTable($("#node-rows"), { onDrain, actionsHead: $("#node-actions-head") });
    this.overview = new NodeOverview($("#overview"), { onOpen: (nodeId) => this.openNode(nodeId) });
    this.charts = new HistoryCharts($("#fleet-history"));
    this.vmView = new VmView($("#panel-vms"), { onStateChosen: (state) => this.change({ vmState: state }) });
    this.jobView = new JobView($("#panel-jobs"), { onStateChosen: (state) => this.change({ jobState: state }) });

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
    this.loadSession = this.session.id;
    const token = this.session.token;
    await this.session.ensureAccess();
    // The queue and the images are shown on the VMs view only (and read at the first refresh,
    // where the images may say that the daemon has runner pools); the daemon's role changes
    // seldom: once a minute. Every request costs the browser's main thread about a millisecond.
    const first = !this.store.fleet;
    const vms = this.currentTab() === "vms";
    return fetchSnapshot({
      jobs: this.asksForJobs(),
      images: this.imagesOffered !== false && (first || vms),
      queue: first || vms,
      daemon: first || Date.now() - this.daemonReadAt >= DAEMON_EVERY_MS,
      history: this.asksForHistory(),
      historyAfter: this.history?.samples.at(-1)?.at,
      token,
      revisions: { ...this.store.revisions },
    });
  }

  // Whether to read /api/jobs: the daemon has answered it, or it is not known to lack runner
  // pools and something says it has them: a runner VM of a pool, an image a pool wants, or this
  // browser having seen jobs on this daemon before.
  asksForJobs() {
    if (this.jobsOffered !== undefined) return this.jobsOffered;
    const images = Array.isArray(this.images?.images) ? this.images.images : [];
    const wanted = images.some((image) => image.demand?.poolWarm > 0 || image.demand?.poolQueuedJobs > 0);
    return readPools() || this.store.poolVms > 0 || wanted;
  }

  asksForHistory() {
    if (this.historyOffered !== undefined) return this.historyOffered;
    return typeof this.store.revisions.nodes === "string";
  }

  // Reads the history at once, when the first answer showed a daemon that has it.
  readHistory() {
    if (this.historyRead === this.session.id) return;
    const session = (this.historyRead = this.session.id);
    fetchHistory(this.session.token)
      .then((history) => {
        if (session !== this.session.id || this.historyOffered !== undefined) return;
        this.receiveHistory(history);
        if (this.store.fleet) this.charts.update(this.history ?? null);
      })
      .catch(() => {
        // The next refresh asks again.
      })
      .finally(() => {
        if (this.historyRead === session) this.historyRead = undefined;
      });
  }

  // Takes an answer of /api/fleet/history: the samples after the last one the page has are
  // added to it (the page asks only for those), and those more than 6 hours older than the
  // newest dropped, as the daemon drops them. The history stays the same object when no sample
  // is new, so that the charts are not drawn again.
  receiveHistory(history) {
    this.historyOffered = history !== null;
    setHidden($("#history-json-link"), !this.historyOffered);
    if (!history || !Array.isArray(history.samples)) {
      this.history = undefined;
      return;
    }
    const kept = this.history?.samples ?? [];
    const last = kept.length ? Date.parse(kept.at(-1).at) : -Infinity;
    const fresh = history.samples.filter((sample) => Date.parse(sample.at) > last);
    if (this.history && fresh.length === 0) return;
    const samples = kept.concat(fresh);
    const since = Date.parse(samples.at(-1)?.at) - HISTORY_SPAN_MS;
    const first = samples.findIndex((sample) => Date.parse(sample.at) >= since);
    this.history = { intervalSeconds: history.intervalSeconds, samples: first > 0 ? samples.slice(first) : samples };
  }

  // Shows what the session's token may see and do.
  showAccess() {
    // A link opened in the browser carries no token: the JSON links are of an open daemon.
    setHidden($("#json-links"), this.session.signedIn());
    const actions = this.session.mayDrain();
    this.cards.showActions(actions);
    this.table.showActions(actions);
    this.showCurlExample();
  }

  showSignedIn(signedIn) {
    setHidden($("#totals"), !signedIn);
    setHidden($("#refresh-controls"), !signedIn);
    setHidden($("#fleet-view"), !signedIn);
    setHidden($("#page-footer"), !signedIn);
    this.nodeActions.hideError();
    if (!signedIn) setHidden($("#connection-banner"), true);
  }

  clearFleet() {
    this.store.clear();
    this.summary.update(NO_FLEET);
    this.cards.clear();
    this.table.clear();
    this.overview.clear();
    this.history = undefined;
    this.charts.update(null);
    this.vmView.update(this.store, this.view, 0, undefined);
    this.jobView.update([], this.view, 0);
    this.images = undefined;
    this.lastSuccess = undefined;
    this.error = undefined;
    this.syncOptions();
    this.showConnection();
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
      // The button is disabled now that no filter is set: the focus goes to the search.
      text.focus();
    });

    $("#layout-cards").addEventListener("click", () => this.change({ layout: "cards" }));
    $("#layout-table").addEventListener("click", () => this.change({ layout: "table" }));
    $("#layout-overview").addEventListener("click", () => this.change({ layout: "overview" }));
    $("#overview-group").addEventListener("change", (event) => this.change({ group: event.target.value }));

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
      if (typing || this.session.asksForToken()) return;
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
    const before = this.currentTab();
    this.view = { ...this.view, ...patch };
    writeView(this.view);
    this.showView();
    this.render();
    // The VMs view shows the queue and the images, read only while it is shown: the operator
    // who opens it gets them at once.
    if (this.currentTab() === "vms" && before !== "vms" && !this.queueRead && this.store.fleet) this.poller.refreshNow();
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
    setAttr($("#layout-overview"), "aria-pressed", String(layout === "overview"));

    const text = $("#filter-text");
    if (text.value !== this.view.q) text.value = this.view.q;
    $("#filter-state").value = this.view.state;
    setAttr($("#filter-clear"), "disabled", !filtersActive(this.view));
    this.syncOptions();
  }

  // Fills the image and label selects with what the fleet has (and the chosen value, even if
  // no node has it right now, so a filter from the URL is never silently dropped).
  syncOptions() {
    const images = this.store.imageOptions();
    const labels = this.store.labelOptions();
    syncSelect($("#filter-image"), images, this.view.image);
    syncSelect($("#filter-label"), labels, this.view.label);
    if (labels !== this.labelsKeyed) this.labelKeys = labelKeys((this.labelsKeyed = labels));
    syncSelect($("#overview-group"), this.labelKeys, this.view.group, "None");
  }

  receive(snapshot) {
    if (this.loadSession !== this.session.id) return;
    this.store.receive(snapshot);
    if (snapshot.daemon !== undefined) this.daemonReadAt = snapshot.receivedAt;
    this.queueRead = snapshot.queue !== undefined;
    if (snapshot.jobs !== undefined) {
      const offered = snapshot.jobs !== null;
      writePools(offered);
      if (offered !== this.jobsOffered) {
        this.jobsOffered = offered;
        this.showView();
      }
    }
    if (snapshot.images !== undefined) {
      this.imagesOffered = snapshot.images !== null;
      this.images = snapshot.images ?? undefined;
      setHidden($("#images-json-link"), !this.imagesOffered);
    }
    if (snapshot.history !== undefined) this.receiveHistory(snapshot.history);
    else if (this.asksForHistory()) this.readHistory();
    const generated = Date.parse(snapshot.fleet.generatedAt);
    if (Number.isFinite(generated)) this.clockOffset = generated - snapshot.receivedAt;
    this.lastSuccess = new Date(snapshot.receivedAt);
    this.error = undefined;
    this.syncOptions();
    this.render();
    this.showConnection();
    this.prepareSearch();
  }

  // Makes the nodes' search texts while the browser is idle, so that the first letter typed
  // in the search does not wait for 10,000 of them.
  prepareSearch() {
    if (this.preparing || typeof requestIdleCallback !== "function") return;
    const step = (deadline) => {
      this.preparing = this.store.prepareSearch(deadline) ? undefined : requestIdleCallback(step);
    };
    this.preparing = requestIdleCallback(step);
  }

  fail(error) {
    if (this.loadSession !== this.session.id) return;
    if (this.session.signOutIfRefused(error, { hadFleet: Boolean(this.lastSuccess) })) return;
    this.error = error;
    this.daemonReadAt = -Infinity;
    if (this.jobsOffered === false) this.jobsOffered = undefined;
    if (this.imagesOffered === false) this.imagesOffered = undefined;
    if (this.historyOffered === false) this.historyOffered = undefined;
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

  // Which daemon answers and its role: of several on one PostgreSQL, the leader (or, reached
  // directly, a follower or a leader without its database); a daemon alone leads.
  showDaemon(daemon) {
    setHidden($("#daemon"), !daemon);
    if (!daemon) return;
    setText($("#daemon-url"), daemon.daemon ?? window.location.host);
    setText($("#daemon-role"), daemon.role);
    const leader = daemon.leader && daemon.leader !== daemon.daemon ? ` The leader is ${daemon.leader}.` : "";
    setAttr($("#daemon-role"), "title", `The role of the daemon this page talks to.${leader}`);
    setVariant($("#daemon-role"), DAEMON_ROLE, daemon.role === "leader" ? "leader" : "other");
  }

  render() {
    const { store, view } = this;
    if (!store.fleet) return;
    const now = this.now();
    this.summary.update(store.fleet);
    this.charts.update(this.history ?? null);
    this.showDaemon(store.daemon);
    setText($("#count-nodes"), store.nodes.size);
    setText($("#count-vms"), store.vms.size);
    let queued = 0;
    for (const job of store.jobs.values()) if (job.state === "queued") queued++;
    setText($("#count-jobs"), `${queued} queued`);
    setVariant($("#count-jobs"), QUEUED_COUNT, queued > 0 ? "some" : "none");

    // A hidden view keeps what it shows, and is brought up to date when shown again.
    const tab = this.currentTab();
    if (tab === "nodes") this.renderNodes(now);
    else if (tab === "vms") this.vmView.update(store, view, now, this.images);
    else this.jobView.update(store.jobList(), view, now);
  }

  renderNodes(now) {
    const { store, view } = this;
    const total = store.nodes.size;
    const empty = total === 0;
    const ids = store.nodeIds(view);
    setHidden($("#empty-fleet"), !empty);
    const shown = $("#nodes-shown");
    setHidden(shown, empty || !filtersActive(view));
    setText(shown, `Showing ${ids.length} of ${total} nodes`);

    const { layout } = view;
    setHidden($("#node-grid"), layout !== "cards");
    setHidden($("#node-table-wrap"), layout !== "table" || empty || ids.length === 0);
    // The overview shows every Mac (those the filters leave out dimmed).
    setHidden($("#overview"), layout !== "overview" || empty);
    setHidden($("#no-node-match"), empty || ids.length > 0 || layout === "overview");
    // Only the visible layout keeps elements.
    if (layout !== "cards") this.cards.clear();
    if (layout !== "table") this.table.clear();
    if (layout !== "overview") this.overview.clear();
    if (layout === "cards") this.cards.update(ids, store, now);
    else if (layout === "table") this.table.update(ids, store, now);
    else if (!empty) this.overview.update(ids, store, view.group);
  }

  // Opens a Mac of the overview: its card, scrolled to and focused (the filters are cleared
  // when they leave it out).
  openNode(nodeId) {
    const patch = { layout: "cards" };
    if (!this.store.nodeIds(this.view).includes(nodeId)) Object.assign(patch, { q: "", state: "", image: "", label: "" });
    this.change(patch);
    this.cards.reveal(nodeId);
  }

  tick() {
    if (!this.store.fleet) return;
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
    const auth = this.session.signedIn() ? `-H "Authorization: Bearer $AGENT_TOKEN" ` : "";
    const command = `curl -X POST ${auth}-H "Content-Type: application/json" -d '${json}' \\\n  ${location.origin}/api/heartbeat`;
    setText($("#curl-example"), command);
  }
}

function syncSelect(select, values, chosen, none = "Any") {
  const wanted = ["", ...values];
  if (chosen && !values.includes(chosen)) wanted.push(chosen);
  const current = [...select.options].map((option) => option.value);
  if (current.length !== wanted.length || current.some((value, i) => value !== wanted[i])) {
    const options = wanted.map((value) => {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = value || none;
      return option;
    });
    select.replaceChildren(...options);
  }
  if (select.value !== chosen) select.value = chosen;
}

new Dashboard();
