// Heartbeats of a believable fleet of Mac minis, the same on every run (a seeded generator), so
// that screenshots are comparable.

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

// The heartbeat of node number i (1-based). `vms` running VMs (default: from the seed).
export function heartbeatOf(i, { vms, status } = {}) {
  const next = random(i * 7919);
  const chip = ["m1", "m2", "m2-pro", "m4"][Math.floor(next() * 4)];
  const totalMemoryGB = chip === "m1" ? 16 : chip === "m4" ? 64 : 32;
  const totalDiskGB = chip === "m1" ? 512 : chip === "m4" ? 2000 : 1000;
  const cached = IMAGES.filter(() => next() < 0.55);
  if (cached.length === 0) cached.push(IMAGES[i % IMAGES.length]);
  const count = vms ?? Math.floor(next() * 3);
  const running = [];
  for (let v = 0; v < count; v++) {
    const id = Math.floor(next() * 0xffffff).toString(16).padStart(6, "0");
    running.push({
      vmId: `vm-${String(i).padStart(3, "0")}-${id}`,
      imageName: cached[v % cached.length],
      runtimeSeconds: Math.floor(next() * 9000) + 60,
      vmHostname: `runner-${id}`,
      vmIpAddress: `192.168.64.${10 + v + (i % 200)}`,
    });
  }
  const memoryUsageGB = Math.round((3 + running.length * (totalMemoryGB / 3) * (0.6 + next() * 0.3)) * 10) / 10;
  return {
    nodeId: nodeName(i),
    vmCount: running.length,
    vms: running,
    cpuUsagePercent: Math.round((5 + running.length * 35 + next() * 20) * 10) / 10,
    memoryUsageGB: Math.min(memoryUsageGB, totalMemoryGB),
    totalMemoryGB,
    diskUsageGB: Math.round(totalDiskGB * (0.2 + next() * 0.7)),
    totalDiskGB,
    status: status ?? (running.length ? "healthy" : "idle"),
    cachedImages: cached,
    labels: { arch: "arm64", chip, xcode: cached.some((c) => c.includes("xcode:16")) ? "16.1" : "15.4" },
  };
}

export function fleetOf(count, options = {}) {
  return Array.from({ length: count }, (_, k) => heartbeatOf(k + 1, options));
}
