// Starts the real macvmorx daemon on a free loopback port and talks to it over HTTP, as an
// agent and a CI client would (with `token`, an admin's or an agent's, when it has a tokens file).
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import { artifactsDir } from "./paths.mjs";

const binary = process.env.MACVMORX_BIN;

export class Daemon {
  static async start({ name = "daemon", offlineTimeout = "3s", args = [], token } = {}) {
    if (!binary) throw new Error("MACVMORX_BIN must name the macvmorx binary (tests/browser/run.sh sets it)");
    const logDir = join(artifactsDir, "logs");
    mkdirSync(logDir, { recursive: true });
    const log = createWriteStream(join(logDir, `${name}.log`));
    const child = spawn(
      binary,
      [
        "server",
        "--bind", "127.0.0.1",
        "--port", "0",
        "--in-memory",
        "--offline-timeout", offlineTimeout,
        "--monitor-interval", "500ms",
        "--threads", "2",
        ...(process.env.MACVMORX_WEB_DIR ? ["--web-dir", process.env.MACVMORX_WEB_DIR] : []),
        ...args,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child.stdout.pipe(log, { end: false });
    const port = await new Promise((resolve, reject) => {
      let buffer = "";
      const timer = setTimeout(() => reject(new Error(`${binary} did not log "listening on" within 10 s`)), 10_000);
      child.on("exit", (code) => reject(new Error(`${binary} exited with ${code} before listening:\n${buffer}`)));
      child.stderr.on("data", (chunk) => {
        log.write(chunk);
        buffer += chunk;
        const match = buffer.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
    });
    return new Daemon(child, port, log, token);
  }

  constructor(child, port, log, token) {
    this.child = child;
    this.port = port;
    this.log = log;
    this.token = token;
    this.url = `http://127.0.0.1:${port}`;
  }

  headers(extra = {}) {
    return this.token ? { ...extra, Authorization: `Bearer ${this.token}` } : extra;
  }

  async post(path, body) {
    const response = await fetch(`${this.url}${path}`, {
      method: "POST",
      headers: this.headers({ "Content-Type": "application/json" }),
      body: JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  async get(path) {
    const response = await fetch(`${this.url}${path}`, { headers: this.headers() });
    return response.json();
  }

  async heartbeat(report) {
    const { status, body } = await this.post("/api/heartbeat", report);
    if (status !== 200) throw new Error(`heartbeat of ${report.nodeId}: ${status} ${JSON.stringify(body)}`);
    return body;
  }

  async heartbeats(reports) {
    // A few at a time: the daemon is fast, the machine has 2 cores.
    for (let i = 0; i < reports.length; i += 20) await Promise.all(reports.slice(i, i + 20).map((r) => this.heartbeat(r)));
  }

  async scheduleVm(request) {
    return this.post("/api/schedule-vm", request);
  }

  async stop() {
    if (this.child.exitCode != null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill("SIGTERM");
    await exited;
    this.log.end();
  }
}
