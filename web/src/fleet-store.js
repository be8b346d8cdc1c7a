// The fleet as the page keeps it between refreshes: nodes, VM records and jobs by ID, merged
// from what the listings say changed (GET /api/nodes?since=...), and what the views derive from
// them, kept up to date by the changes alone: the order of the nodes, each node's VMs, which
// nodes a filter keeps, and the images and labels the filters offer. So a refresh in which 1% of
// 10,000 nodes changed looks at those 100 nodes (and walks a list of IDs), not at all of them.

import { compareNodes, labelList, nodeMatches, nodeSearchText, nodeVms, searchWords, sortJobs, sortVms } from "./fleet-model.js";

// States of VM records that hold or are about to hold a slot on their node.
const PLACED_STATES = new Set(["assigned", "provisioning", "deleting", "running", "lost", "unmanaged"]);

const hostKey = (nodeId, name) => `${nodeId}\u0000${name}`;

// How many times each value is held, and the sorted list of those held at least once.
class Tally {
  constructor() {
    this.counts = new Map();
    this.sorted = [];
    this.stale = false;
  }

  add(value, step) {
    if (!value) return;
    const count = (this.counts.get(value) ?? 0) + step;
    if (count > 0) {
      if (!this.counts.has(value)) this.stale = true;
      this.counts.set(value, count);
    } else {
      this.counts.delete(value);
      this.stale = true;
    }
  }

  list() {
    if (this.stale) {
      this.sorted = [...this.counts.keys()].sort();
      this.stale = false;
    }
    return this.sorted;
  }
}

export class FleetStore {
  constructor() {
    this.clear();
  }

  clear() {
    this.fleet = undefined;
    this.queue = [];
    this.daemon = undefined;
    this.nodes = new Map();
    this.vms = new Map();
    this.jobs = new Map();
    // The revisions the daemon gave with the copies above (undefined: ask for everything).
    this.revisions = { nodes: undefined, vms: undefined, jobs: undefined };
    this.recordsByHost = new Map();
    this.placedByNode = new Map(); // nodeId -> [record]
    this.nodeOrder = []; // nodeIds: online first, then by name
    this.rows = new Map(); // nodeId -> its VMs as the views list them (nodeVms), made when asked
    this.texts = new Map(); // nodeId -> what the search looks in (nodeSearchText), made when asked
    this.images = new Tally();
    this.labels = new Tally();
    this.vmOrder = undefined; // records, newest first; undefined until asked again
    this.jobOrder = undefined;
    this.filtered = { key: undefined, ids: [], matches: new Map() };
    this.changed = new Set(); // nodes changed since the filter last looked
    this.poolVms = 0; // VMs of GitHub Actions runner pools (a sign that the daemon has pools)
  }

  // Takes the answers of one refresh (api.js's fetchSnapshot). Jobs are absent (undefined) when
  // not asked for, null from a daemon without runner pools; the queue and the daemon's role, when
  // not asked for, stay as last read.
  receive(snapshot) {
    this.fleet = snapshot.fleet;
    if (snapshot.queue !== undefined) this.queue = snapshot.queue;
    if (snapshot.daemon !== undefined) this.daemon = snapshot.daemon;
    this.applyVms(snapshot.vms);
    this.applyNodes(snapshot.nodes);
    if (snapshot.jobs) this.applyJobs(snapshot.jobs);
    else if (snapshot.jobs === null) this.applyJobs({ full: true, items: [], removed: [], revision: undefined });
  }

  applyNodes({ revision, full, items, removed }) {
    this.revisions.nodes = revision;
    const gone = full ? missing(this.nodes, items, (node) => node.nodeId) : removed;
    const moved = new Set();
    for (const id of gone) {
      const old = this.nodes.get(id);
      if (!old) continue;
      this.tallyNode(old, -1);
      this.nodes.delete(id);
      this.touch(id);
      moved.add(id);
    }
    for (const node of items) {
      const id = node.nodeId;
      const old = this.nodes.get(id);
      if (old) this.tallyNode(old, -1);
      this.tallyNode(node, 1);
      this.nodes.set(id, node);
      this.touch(id);
      if (!old || old.isOnline !== node.isOnline) moved.add(id);
    }
    // Sorted again in full only when much moved (a first answer); else each moved node is put
    // in its place.
    if (moved.size > this.nodes.size / 4) {
      this.nodeOrder = [...this.nodes.values()].sort(compareNodes).map((node) => node.nodeId);
    } else if (moved.size > 0) {
      const order = this.nodeOrder.filter((id) => !moved.has(id));
      for (const id of moved) {
        const node = this.nodes.get(id);
        if (node) order.splice(this.position(order, node), 0, id);
      }
      this.nodeOrder = order;
    }
  }

  // Where `node` goes in `order` (binary search).
  position(order, node) {
    let low = 0;
    let high = order.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareNodes(this.nodes.get(order[middle]), node) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  applyVms({ revision, full, items, removed }) {
    this.revisions.vms = revision;
    const gone = full ? missing(this.vms, items, (record) => record.vmId) : removed;
    let membership = false;
    for (const id of gone) {
      const old = this.vms.get(id);
      if (!old) continue;
      this.unindexVm(old);
      this.vms.delete(id);
      membership = true;
    }
    for (const record of items) {
      const old = this.vms.get(record.vmId);
      if (old) this.unindexVm(old);
      else membership = true;
      this.vms.set(record.vmId, record);
      this.indexVm(record);
    }
    // The records' order (by creation) stays; only the list of them is made again.
    if (membership) this.vmOrder = undefined;
    else if (items.length > 0 && this.vmOrder) this.vmOrder = this.vmOrder.map((record) => this.vms.get(record.vmId));
  }

  applyJobs({ revision, full, items, removed }) {
    this.revisions.jobs = revision;
    const gone = full ? missing(this.jobs, items, (job) => String(job.jobId)) : removed;
    for (const id of gone) this.jobs.delete(String(id));
    for (const job of items) this.jobs.set(String(job.jobId), job);
    if (gone.length > 0 || items.length > 0) this.jobOrder = undefined;
  }

  indexVm(record) {
    if (record.metadata?.pool) this.poolVms++;
    this.images.add(record.imageName, 1);
    for (const label of labelList(record.labels)) this.labels.add(label, 1);
    if (!record.nodeId) return;
    this.recordsByHost.set(hostKey(record.nodeId, record.hostVmId ?? record.vmId), record);
    if (PLACED_STATES.has(record.state)) {
      const list = this.placedByNode.get(record.nodeId);
      if (list) list.push(record);
      else this.placedByNode.set(record.nodeId, [record]);
    }
    this.touch(record.nodeId);
  }

  unindexVm(record) {
    if (record.metadata?.pool) this.poolVms--;
    this.images.add(record.imageName, -1);
    for (const label of labelList(record.labels)) this.labels.add(label, -1);
    if (!record.nodeId) return;
    const key = hostKey(record.nodeId, record.hostVmId ?? record.vmId);
    if (this.recordsByHost.get(key) === record) this.recordsByHost.delete(key);
    const list = this.placedByNode.get(record.nodeId);
    if (list) {
      const i = list.indexOf(record);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.placedByNode.delete(record.nodeId);
    }
    this.touch(record.nodeId);
  }

  tallyNode(node, step) {
    for (const image of node.cachedImages ?? []) this.images.add(image, step);
    for (const vm of node.vms ?? []) this.images.add(vm.imageName, step);
    for (const label of labelList(node.labels)) this.labels.add(label, step);
  }

  // The node (or its VMs) changed: what was derived of it is made again when asked.
  touch(nodeId) {
    this.rows.delete(nodeId);
    this.texts.delete(nodeId);
    this.changed.add(nodeId);
  }

  // A node and its VMs as the node views show them: {node, vms}.
  item(nodeId) {
    const node = this.nodes.get(nodeId);
    if (!node) return undefined;
    let vms = this.rows.get(nodeId);
    if (!vms) this.rows.set(nodeId, (vms = nodeVms(node, this.recordsByHost, this.placedByNode)));
    return { node, vms };
  }

  // What the search looks in for a node, in lower case.
  searchText(nodeId) {
    let text = this.texts.get(nodeId);
    if (text === undefined) {
      const { node, vms } = this.item(nodeId);
      this.texts.set(nodeId, (text = nodeSearchText(node, vms)));
    }
    return text;
  }

  // Makes the search texts of the nodes that have none, while `deadline` (an idle callback's)
  // leaves time: the first letter typed in the search then finds them made. Whether all are.
  prepareSearch(deadline) {
    for (const id of this.nodeOrder) {
      if (deadline.timeRemaining() < 1) return false;
      if (!this.texts.has(id)) this.searchText(id);
    }
    return true;
  }

  // The IDs of the nodes `view`'s search and filters keep, in display order. Each node is
  // matched again only when it changed or the filters did.
  nodeIds(view) {
    const key = JSON.stringify([view.q.trim(), view.state, view.image, view.label]);
    const active = key !== JSON.stringify(["", "", "", ""]);
    const filtered = this.filtered;
    if (!active) {
      this.changed.clear();
      filtered.key = key;
      filtered.matches.clear();
      return this.nodeOrder;
    }
    if (filtered.key !== key) {
      filtered.key = key;
      filtered.matches.clear();
    } else {
      for (const id of this.changed) filtered.matches.delete(id);
    }
    this.changed.clear();
    const ids = [];
    const words = searchWords(view.q);
    // The node being matched, and what its VMs and its text are (made only when a filter
    // needs them).
    let current;
    const vms = () => this.item(current).vms;
    const text = () => this.searchText(current);
    for (const id of this.nodeOrder) {
      let match = filtered.matches.get(id);
      if (match === undefined) {
        current = id;
        filtered.matches.set(id, (match = nodeMatches(this.nodes.get(id), vms, view, { words, text })));
      }
      if (match) ids.push(id);
    }
    return ids;
  }

  // Every VM record, newest first.
  vmList() {
    if (!this.vmOrder) this.vmOrder = sortVms([...this.vms.values()]);
    return this.vmOrder;
  }

  jobList() {
    if (!this.jobOrder) this.jobOrder = sortJobs([...this.jobs.values()]);
    return this.jobOrder;
  }

  imageOptions() {
    return this.images.list();
  }

  labelOptions() {
    return this.labels.list();
  }
}

// The IDs of `map` that `items` (a whole list) no longer holds.
function missing(map, items, idOf) {
  const present = new Set(items.map((item) => String(idOf(item))));
  return [...map.keys()].filter((id) => !present.has(id));
}
