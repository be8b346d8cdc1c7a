// Second half of `npm run build`: copies the page and its modules from src/ to dist/ (Tailwind
// has written dist/styles.css), then checks that CMake embeds exactly the files of dist/.
import { copyFileSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const web = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(web, "src");
const dist = join(web, "dist");
const copied = /\.(html|js|svg)$/;

// Remove what an earlier build copied and src/ no longer has.
for (const name of readdirSync(dist)) {
  if (copied.test(name) && !readdirSync(src).includes(name)) rmSync(join(dist, name));
}
for (const name of readdirSync(src)) {
  if (copied.test(name)) copyFileSync(join(src, name), join(dist, name));
}

const built = readdirSync(dist).sort();
const cmake = readFileSync(join(web, "..", "src", "CMakeLists.txt"), "utf8");
const line = cmake.match(/set\(MACVMORX_WEB_FILES ([^)]*)\)/);
const embedded = line ? line[1].trim().split(/\s+/).sort() : [];
if (built.join(" ") !== embedded.join(" ")) {
  console.error("web/dist and the MACVMORX_WEB_FILES line of src/CMakeLists.txt differ; the line should read:");
  console.error(`set(MACVMORX_WEB_FILES ${built.join(" ")})`);
  process.exit(1);
}
console.log(`dist/: ${built.join(" ")}`);
