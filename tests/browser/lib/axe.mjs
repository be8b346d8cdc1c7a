// axe-core (tests/browser/package.json) in the page under test: the WCAG 2.2 AA rules, run on
// what the page shows. Its source is evaluated through the DevTools protocol, which the page's
// Content-Security-Policy (no inline script) does not govern.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const source = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

export const WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

// The violations of the page as it is now: ["rule-id (impact): target: summary", ...].
export async function axeViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(source);
  const violations = await page.evaluate(
    (tags) =>
      window.axe
        // landmark-unique is a best practice, not a criterion: the page keeps it all the same.
        .run(document, { runOnly: { type: "tag", values: tags }, rules: { "landmark-unique": { enabled: true } }, resultTypes: ["violations"] })
        .then((r) => r.violations),
    WCAG_22_AA,
  );
  return violations.flatMap((violation) =>
    violation.nodes.map((node) => `${violation.id} (${violation.impact}): ${node.target.join(" ")}: ${node.failureSummary?.replace(/\s+/g, " ")}`),
  );
}
