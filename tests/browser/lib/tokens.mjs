// Tokens for a daemon started with --tokens-file: random ones, made at run time, and the file of
// their SHA-256 hashes in a temporary folder, in the format `macvmorx token create` prints.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// roles: {name: role}. Returns {file, token: {name: token}, rewrite(roles), remove()}.
export function makeTokens(roles) {
  const dir = mkdtempSync(join(tmpdir(), "macvmorx-tokens-"));
  const file = join(dir, "tokens");
  const token = {};
  for (const name of Object.keys(roles)) token[name] = `mvx_${randomBytes(32).toString("base64url")}`;
  const rewrite = (current) => {
    const lines = Object.entries(current).map(([name, role]) => {
      const hash = createHash("sha256").update(token[name]).digest("hex");
      return `sha256:${hash} ${role} ${name}`;
    });
    writeFileSync(file, `${lines.join("\n")}\n`, { mode: 0o600 });
  };
  rewrite(roles);
  return {
    file,
    token,
    // Gives the same tokens other roles (send the daemon SIGHUP to load them).
    rewrite,
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
