// No browser needed: the committed web/dist is what `npm run build` makes of web/src, CMake
// embeds exactly its files, and the formatting helpers say what the dashboard shows.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot } from "./lib/paths.mjs";
import { formatAgo, formatRuntime, formatUsedTotal, shortImageName } from "../../web/src/format.js";
import { capacityLevel } from "../../web/src/summary.js";

const src = join(repoRoot, "web", "src");
const dist = join(repoRoot, "web", "dist");

test("web/dist holds the current sources and a built stylesheet", () => {
  const copied = readdirSync(src).filter((name) => /\.(html|js|svg)$/.test(name));
  for (const name of copied) {
    assert.equal(readFileSync(join(dist, name), "utf8"), readFileSync(join(src, name), "utf8"), `web/dist/${name} is stale: run npm run build in web/`);
  }
  const css = readFileSync(join(dist, "styles.css"), "utf8");
  assert.ok(css.length > 5000 && !css.includes("\n  "), "dist/styles.css is built and minified");
  for (const used of ["grayscale", "bg-emerald-100", "aria-pressed\\:bg-sky-600", "grid-cols-\\[repeat\\(auto-fill\\,minmax\\(19rem\\,1fr\\)\\)\\]"]) {
    assert.ok(css.includes(`.${used}`), `dist/styles.css lacks .${used}: run npm run build in web/`);
  }
  assert.ok(!/@import|url\(\s*["']?https?:/.test(css), "the stylesheet loads nothing from elsewhere");
});

test("CMake embeds exactly the files of web/dist", () => {
  const cmake = readFileSync(join(repoRoot, "src", "CMakeLists.txt"), "utf8");
  const embedded = cmake.match(/set\(MACVMORX_WEB_FILES ([^)]*)\)/)[1].trim().split(/\s+/).sort();
  assert.deepEqual(embedded, readdirSync(dist).sort());
});

test("the page has no inline script, style or event handler", () => {
  const html = readFileSync(join(src, "index.html"), "utf8");
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/);
  assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i);
  for (const name of readdirSync(src).filter((n) => n.endsWith(".js"))) {
    assert.doesNotMatch(readFileSync(join(src, name), "utf8"), /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, name);
  }
});

test("runtimes, ages and sizes read the way operators write them", () => {
  assert.equal(formatRuntime(45), "45s");
  assert.equal(formatRuntime(725), "12m 05s");
  assert.equal(formatRuntime(3720), "1h 02m");
  assert.equal(formatRuntime(3 * 86400 + 4 * 3600), "3d 04h");
  assert.equal(formatAgo(400), "just now");
  assert.equal(formatAgo(12_000), "12 s ago");
  assert.equal(formatAgo(5 * 60_000), "5 min ago");
  assert.equal(formatAgo(3 * 3600_000), "3 h ago");
  assert.equal(formatUsedTotal(8.5, 16), "8.5 / 16 GB");
  assert.equal(formatUsedTotal(150, 500), "150 / 500 GB");
  assert.equal(formatUsedTotal(450, 1000), "0.45 / 1 TB");
  assert.equal(shortImageName("ghcr.io/acme/macos-sonoma:15"), "macos-sonoma:15");
  assert.equal(capacityLevel({ total: 0, free: 0 }), "ok");
  assert.equal(capacityLevel({ total: 20, free: 9 }), "ok");
  assert.equal(capacityLevel({ total: 20, free: 4 }), "warn");
  assert.equal(capacityLevel({ total: 2, free: 1 }), "warn");
  assert.equal(capacityLevel({ total: 20, free: 0 }), "critical");
});
