// Heartbeats of a believable fleet of Mac minis, the same on every run (seeded), and a daemon
// fed with it the way agents and CI would: VMs placed through /api/schedule-vm, then reported
// running by their hosts.

export const IMAGES = [
  "ghcr.io/acme/macos-sequoia-xcode:16.1",
  "ghcr.io/acme/macos-sonoma-xcode:15.4",
  "ghcr.io/acme/macos-sonoma-runner:latest",
  "ghcr.io/acme/macos-ventura-base:13.6",
];

function random(seed) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

export function nodeName(i) {
  return `mac-mini-${String(i).padStart(3, "0")}`;
}

// The heartbeat of node number i (1-based), reporting the VMs `running` ({vmId, imageName}).
export function heartbeatOf(i, running = []) {
  const next = random(i * 7919);
  const chip = ["m1", "m2", "m2-pro", "m4"][Math.floor(next() * 4)];
  const totalMemoryGB = chip === "m1" ? 16 : chip === "m4" ? 64 : 32;
  const totalDiskGB = chip === "m1" ? 512 : chip === "m4" ? 2000 : 1000;
  const cachedImages = IMAGES.filter(() => next() < 0.5);
  if (cachedImages.length === 0) cachedImages.push(IMAGES[i % IMAGES.length]);
  const vms = running.map((vm, v) => {
    const suffix = vm.vmId.slice(-4);
    return {
      vmId: vm.vmId,
      imageName: vm.imageName,
      runtimeSeconds: Math.floor(next() * 5400) + 90,
      vmHostname: `runner-${suffix}`,
      vmIpAddress: `192.168.64.${10 + v * 2 + (i % 100)}`,
    };
  });
  const memoryUsageGB = 2.5 + vms.length * (totalMemoryGB / 3) * (0.7 + next() * 0.25);
  return {
    nodeId: nodeName(i),
    vmCount: vms.length,
    vms,
    cpuUsagePercent: Math.round(Math.min(99, 4 + vms.length * 33 + next() * 25) * 10) / 10,
    memoryUsageGB: Math.round(Math.min(memoryUsageGB, totalMemoryGB) * 10) / 10,
    totalMemoryGB,
    diskUsageGB: Math.round(totalDiskGB * (0.25 + next() * 0.6)),
    totalDiskGB,
    status: vms.length ? "healthy" : "idle",
    cachedImages,
    labels: { arch: "arm64", chip, xcode: cachedImages.some((c) => c.includes("xcode:16")) ? "16.1" : "15.4" },
  };
}

// Registers `count` nodes, places about `perNode` VMs per node through the scheduler and has
// their hosts report most of them running (every fifth stays placed, not yet started). Returns
// the reports by node name, to send again to keep the nodes online.
export async function populate(daemon, count, { perNode = 1.1 } = {}) {
  const reports = new Map();
  for (let i = 1; i <= count; i++) reports.set(nodeName(i), heartbeatOf(i));
  await daemon.heartbeats([...reports.values()]);

  const running = new Map();
  const placements = Math.round(count * perNode);
  for (let k = 0; k < placements; k++) {
    const imageName = IMAGES[k % IMAGES.length];
    const vmId = `job-${String(4100 + k)}`;
    const answer = await daemon.scheduleVm({ imageName, vmId, metadata: { workflow: "build", run: 4100 + k } });
    if (answer.status !== 200) continue;
    if (k % 5 === 4) continue;
    const list = running.get(answer.body.nodeId) ?? [];
    list.push({ vmId, imageName });
    running.set(answer.body.nodeId, list);
  }
  for (let i = 1; i <= count; i++) {
    const name = nodeName(i);
    reports.set(name, heartbeatOf(i, running.get(name) ?? []));
  }
  await daemon.heartbeats([...reports.values()]);
  return reports;
}

// Sends the reports again every `intervalMs` (an agent's heartbeat loop) until stopped.
export function keepAlive(daemon, reports, intervalMs = 1000) {
  let stopped = false;
  let running = Promise.resolve();
  const timer = setInterval(() => {
    if (stopped) return;
    running = daemon.heartbeats([...reports.values()]).catch(() => {});
  }, intervalMs);
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}
