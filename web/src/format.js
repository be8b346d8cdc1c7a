// Turning API values into the short texts the dashboard shows. Pure functions: no DOM, no clock
// of their own (callers pass "now"), so Node's test runner can check them too.

const pad2 = (n) => String(n).padStart(2, "0");

// A VM's runtime: "45s", "12m 05s", "1h 02m", "3d 04h".
export function formatRuntime(totalSeconds) {
  if (!Number.isFinite(totalSeconds) || totalSeconds < 0) return "–";
  const s = Math.floor(totalSeconds);
  const days = Math.floor(s / 86400);
  const hours = Math.floor((s % 86400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const seconds = s % 60;
  if (days > 0) return `${days}d ${pad2(hours)}h`;
  if (hours > 0) return `${hours}h ${pad2(minutes)}m`;
  if (minutes > 0) return `${minutes}m ${pad2(seconds)}s`;
  return `${seconds}s`;
}

// How long ago something happened: "just now", "12 s ago", "5 min ago", "3 h ago", "2 d ago".
export function formatAgo(milliseconds) {
  if (!Number.isFinite(milliseconds)) return "never";
  const s = Math.max(0, Math.floor(milliseconds / 1000));
  if (s < 1) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

// A duration without "ago", for ages of VM records: "12 s", "5 min", "3 h", "2 d".
export function formatAge(milliseconds) {
  const text = formatAgo(milliseconds);
  if (text === "just now") return "0 s";
  return text.replace(/ ago$/, "");
}

// Wall-clock time of day in the browser's time zone: "14:03:27".
export function formatClock(date) {
  return `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
}

// Gigabytes with at most one decimal, dropping ".0": 8.5, 16, 0.3.
export function formatGB(value) {
  if (!Number.isFinite(value)) return "0";
  const rounded = Math.round(value * 10) / 10;
  return Number.isInteger(rounded) ? String(rounded) : rounded.toFixed(1);
}

// "8.5 / 16 GB"; from a terabyte on, "0.45 / 1 TB".
export function formatUsedTotal(used, total) {
  if (total >= 1000) return `${formatTB(used)} / ${formatTB(total)} TB`;
  return `${formatGB(used)} / ${formatGB(total)} GB`;
}

function formatTB(gigabytes) {
  const value = gigabytes / 1000;
  const decimals = value >= 10 ? 1 : 2;
  return String(Number(value.toFixed(decimals)));
}

// The last part of an image reference ("macos-sonoma:15" of "ghcr.io/acme/macos-sonoma:15"),
// for tight spaces; the full name goes in a tooltip.
export function shortImageName(image) {
  const slash = image.lastIndexOf("/");
  return slash >= 0 ? image.slice(slash + 1) : image;
}

// A rate such as placements per minute: "0", "0.25", "1.5", "12"; "–" when unknown.
export function formatRate(value) {
  if (!Number.isFinite(value) || value < 0) return "–";
  const decimals = value >= 10 ? 0 : value >= 1 ? 1 : 2;
  return String(Number(value.toFixed(decimals)));
}

// "1 Mac", "3 Macs": a count and its noun, in the plural unless it is one.
export function plural(count, noun, nouns = `${noun}s`) {
  return `${count} ${count === 1 ? noun : nouns}`;
}

export function formatPercent(value) {
  if (!Number.isFinite(value)) return "0%";
  return `${Math.round(value)}%`;
}

// Share of a total as a percentage clamped to 0..100 (0 when the total is unknown).
export function percentOf(used, total) {
  if (!Number.isFinite(used) || !Number.isFinite(total) || total <= 0) return 0;
  return Math.min(100, Math.max(0, (used / total) * 100));
}

// How full something is, for colouring: "ok", "warn" (from 75%) or "critical" (from 90%).
export function levelOf(percent) {
  if (percent >= 90) return "critical";
  if (percent >= 75) return "warn";
  return "ok";
}

// A label as shown and searched: "arch=arm64", or just "arm64" for a flag label.
export function formatLabel(key, value) {
  return value === "" || value == null ? key : `${key}=${value}`;
}

// Milliseconds since the epoch of an RFC 3339 time, NaN when absent.
export function parseTime(text) {
  return text ? Date.parse(text) : NaN;
}
