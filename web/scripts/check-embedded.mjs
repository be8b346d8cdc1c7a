// Second half of `npm run build` (Tailwind has written built/styles.css): checks that CMake
// embeds exactly what the daemon serves, every file of src/ but the Tailwind input, and the built
// stylesheet. The browser tests import the same check.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const web = join(dirname(fileURLToPath(import.meta.url)), "..");
const root = join(web, "..");

// The Tailwind input: src/styles.css is built into built/styles.css, which the page loads.
export const TAILWIND_INPUT = "styles.css";
export const BUILT_STYLESHEET = join(web, "built", "styles.css");

// The files of src/ the daemon serves as they are.
export function servedSources() {
  return readdirSync(join(web, "src"))
    .filter((name) => name !== TAILWIND_INPUT)
    .sort();
}

// The CMakeLists.txt below src/ that holds the MACVMORX_WEB_FILES line, the names on it, and
// whether its macvmorx_embed_files call adds the built stylesheet.
export function embeddedByCMake() {
  const files = readdirSync(join(root, "src"), { recursive: true })
    .filter((name) => name === "CMakeLists.txt" || name.endsWith("/CMakeLists.txt"))
    .map((name) => join(root, "src", name));
  for (const file of files) {
    const cmake = readFileSync(file, "utf8");
    const line = cmake.match(/set\(MACVMORX_WEB_FILES ([^)]*)\)/);
    if (!line) continue;
    return {
      file,
      names: line[1].trim().split(/\s+/).sort(),
      stylesheet: /FILES \$\{MACVMORX_WEB_FILES\} "\$\{PROJECT_SOURCE_DIR\}\/web\/built\/styles\.css"/.test(cmake),
    };
  }
  return { file: undefined, names: [], stylesheet: false };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const served = servedSources();
  const cmake = embeddedByCMake();
  if (!cmake.file) {
    console.error("no CMakeLists.txt below src/ sets MACVMORX_WEB_FILES");
    process.exit(1);
  }
  if (served.join(" ") !== cmake.names.join(" ")) {
    console.error(`web/src and the MACVMORX_WEB_FILES line of ${cmake.file} differ; the line should read:`);
    console.error(`set(MACVMORX_WEB_FILES ${served.join(" ")})`);
    process.exit(1);
  }
  if (!cmake.stylesheet) {
    console.error(`${cmake.file} should embed the built stylesheet: FILES \${MACVMORX_WEB_FILES} "\${PROJECT_SOURCE_DIR}/web/built/styles.css"`);
    process.exit(1);
  }
  console.log(`embedded: ${served.join(" ")} and built/styles.css`);
}
