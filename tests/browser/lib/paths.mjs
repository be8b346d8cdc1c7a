import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const artifactsDir = process.env.MACVMORX_ARTIFACTS ?? join(repoRoot, "test-artifacts");
export const screenshotsDir = join(artifactsDir, "screenshots");
