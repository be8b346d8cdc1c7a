// Tokens: a daemon with --tokens-file makes the page ask for one, keeps it in this tab only,
// shows who is signed in, and offers Drain/Undrain only to an admin (or on an open daemon).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { openPage, screenshot } from "./lib/browser.mjs";
import { Daemon } from "./lib/daemon.mjs";
import { heartbeatOf } from "./lib/fleet.mjs";
import { card, text, useBrowser, waitForText, withDashboard } from "./lib/harness.mjs";
import { repoRoot } from "./lib/paths.mjs";
import { makeTokens } from "./lib/tokens.mjs";

useBrowser();

// Chromium logs every refused request (the page's first /api/whoami without a token, a wrong
// token) as a console error; those are expected here, nothing else is.
const REFUSALS = /Failed to load resource: the server responded with a status of (401|403|429)\b/;

const ROLES = { ops: "viewer", root: "admin", "mac-mini-001": "agent" };
let tokens;
before(async () => {
  // These tests need the page of web/src and the stylesheet of web/built; a binary built before
  // them embeds older ones.
  const daemon = await Daemon.start({ name: "tokens-page" });
  try {
    for (const [name, file] of [["app.js", join("src", "app.js")], ["styles.css", join("built", "styles.css")]]) {
      const served = await (await fetch(`${daemon.url}/assets/${name}`)).text();
      if (served !== readFileSync(join(repoRoot, "web", file), "utf8")) {
        throw new Error(`the daemon serves another ${name} than web/${file}: rebuild the binary, or run with MACVMORX_WEB_DIR=web`);
      }
    }
  } finally {
    await daemon.stop();
  }
  tokens = makeTokens(ROLES);
});
after(() => tokens?.remove());

// A daemon that requires tokens, with two Macs reported by the admin's token.
function guarded(name) {
  return {
    daemon: { name, offlineTimeout: "10m", args: ["--tokens-file", tokens.file], token: tokens.token.root },
    allowErrors: REFUSALS,
    beforeOpen: async ({ daemon }) => daemon.heartbeats([heartbeatOf(1), heartbeatOf(2)]),
  };
}

async function signIn(page, token, { enter = false } = {}) {
  await page.fill("#token-input", token);
  if (enter) await page.press("#token-input", "Enter");
  else await page.click("#sign-in-submit");
}

const stored = (page) => page.evaluate(() => ({ session: { ...sessionStorage }, local: { ...localStorage }, url: location.href }));

const visibleActions = (page) => page.locator("button[data-node-action]:visible").count();

test("a daemon with tokens asks for one; a wrong token is refused, and so is every token after too many", async () => {
  await withDashboard(guarded("tokens-prompt"), async ({ daemon, page }) => {
    await page.locator("#sign-in").waitFor({ state: "visible" });
    const input = page.getByLabel("Token", { exact: true });
    assert.equal(await input.getAttribute("type"), "password");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "token-input", "the input has the focus");
    assert.equal(await page.getByRole("button", { name: "Sign in" }).count(), 1);
    assert.equal(await page.locator("form#sign-in, #sign-in form").count(), 0, "no form: nothing is submitted");
    for (const hidden of ["#totals", "#refresh-controls", "#fleet-view", "#page-footer", "#account", "#sign-in-message"]) {
      assert.ok(await page.locator(hidden).isHidden(), `${hidden} is hidden`);
    }
    assert.equal(await page.locator("article[data-node-id]").count(), 0, "no fleet without a token");
    await screenshot(page, "tokens-prompt");

    await signIn(page, "mvx_not-the-right-one");
    await waitForText(page, "#sign-in-message", "The daemon does not accept that token: check that it was copied whole, or ask for a new one.");
    assert.equal(await page.getAttribute("#sign-in-message", "role"), "alert");
    assert.ok(await page.locator("#fleet-view").isHidden());
    assert.deepEqual((await stored(page)).session, {}, "a refused token is not kept");
    await screenshot(page, "tokens-refused");

    await signIn(page, "two words");
    await waitForText(page, "#sign-in-message", "That is not a token: a token has no spaces and no accented letters.");

    // Nine more wrong tokens from this address (10 in a minute): the daemon refuses every token.
    for (let i = 0; i < 9; i++) {
      const response = await fetch(`${daemon.url}/api/whoami`, { headers: { Authorization: `Bearer wrong-${i}` } });
      assert.equal(response.status, 401);
    }
    await signIn(page, tokens.token.ops, { enter: true });
    await page.waitForFunction(() => /^Too many wrong tokens/.test(document.querySelector("#sign-in-message").textContent));
    assert.match(await text(page, "#sign-in-message"), /the daemon refuses every token for now\. Wait \d+ s, then sign in again\.$/);
    assert.ok(await page.locator("#fleet-view").isHidden());
  });
});

test("the right viewer token shows the fleet, on every request, survives a reload but not a new browser context, and signs out", async () => {
  await withDashboard(guarded("tokens-viewer"), async ({ page, context, requests }) => {
    const authorization = [];
    page.on("request", (request) => {
      if (new URL(request.url()).pathname.startsWith("/api/")) authorization.push([new URL(request.url()).pathname, request.headers().authorization]);
    });
    await page.locator("#sign-in").waitFor({ state: "visible" });
    await signIn(page, tokens.token.ops);
    await page.locator(card("mac-mini-002")).waitFor();
    assert.ok(await page.locator("#sign-in").isHidden());
    assert.equal(await text(page, "#account-name"), "ops");
    assert.equal(await text(page, "#account-role"), "viewer");
    assert.equal(await text(page, '[data-total="online"]'), "2");
    assert.ok(await page.locator("#json-links").isHidden(), "a link to /api opened without the token would be refused");

    // A viewer may not drain: no button, in the cards or the table.
    assert.equal(await visibleActions(page), 0);
    await page.click("#layout-table");
    await page.locator('#node-rows tr[data-node-id="mac-mini-001"]').waitFor();
    assert.ok(await page.locator("#node-actions-head").isHidden());
    assert.equal(await visibleActions(page), 0);
    await page.click("#layout-cards");

    // Kept in this tab's sessionStorage, nowhere else; sent on every request to /api.
    const kept = await stored(page);
    assert.deepEqual(Object.values(kept.session), [tokens.token.ops]);
    assert.ok(!Object.values(kept.local).some((value) => value.includes(tokens.token.ops)), "not in localStorage");
    assert.ok(!kept.url.includes(tokens.token.ops) && !requests.some((url) => url.href.includes(tokens.token.ops)), "never in a URL");
    await page.click("#refresh-now");
    await page.waitForFunction(() => !document.querySelector("#refresh-now").hasAttribute("aria-busy"));
    const afterSignIn = authorization.slice(authorization.findIndex(([path, value]) => path === "/api/whoami" && value));
    assert.ok(afterSignIn.some(([path]) => path === "/api/nodes"));
    for (const [path, value] of afterSignIn) assert.equal(value, `Bearer ${tokens.token.ops}`, path);

    // A reload of the tab keeps it.
    await page.reload();
    await page.locator(card("mac-mini-002")).waitFor();
    assert.ok(await page.locator("#sign-in").isHidden());
    assert.equal(await text(page, "#account-name"), "ops");

    // Another browser context (another window's session) does not have it.
    const other = await openPage(context.browser());
    try {
      await other.page.goto(page.url());
      await other.page.locator("#sign-in").waitFor({ state: "visible" });
      assert.equal(await other.page.locator("article[data-node-id]").count(), 0);
    } finally {
      await other.close();
    }

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.locator("#sign-in").waitFor({ state: "visible" });
    assert.equal(await text(page, "#sign-in-message"), "Signed out. The token is forgotten in this tab.");
    assert.equal(await page.locator("article[data-node-id]").count(), 0, "the fleet is gone from the page");
    assert.ok(await page.locator("#account").isHidden());
    assert.deepEqual((await stored(page)).session, {});
    await page.reload();
    await page.locator("#sign-in").waitFor({ state: "visible" });
    assert.ok(await page.locator("#sign-in-message").isHidden(), "a fresh prompt after the reload");
  });
});

test("an agent's token may not read the fleet, and says so", async () => {
  await withDashboard({ ...guarded("tokens-agent"), colorScheme: "dark" }, async ({ page }) => {
    await page.locator("#sign-in").waitFor({ state: "visible" });
    await signIn(page, tokens.token["mac-mini-001"]);
    await waitForText(
      page,
      "#sign-in-message",
      'The token "mac-mini-001" has the role agent, which may not read the fleet: sign in with a viewer, ci or admin token.',
    );
    assert.ok(await page.locator("#fleet-view").isHidden());
    assert.ok(await page.locator("#account").isHidden());
    assert.deepEqual((await stored(page)).session, {});
    await screenshot(page, "tokens-agent-dark");
  });
});

test("an admin drains and undrains a node from its card and from the table; a refused action says why", async () => {
  await withDashboard(guarded("tokens-admin"), async ({ daemon, page }) => {
    await page.locator("#sign-in").waitFor({ state: "visible" });
    await signIn(page, tokens.token.root);
    const one = card("mac-mini-001");
    await page.locator(one).waitFor();
    assert.equal(await text(page, "#account-role"), "admin");
    assert.equal(await visibleActions(page), 2, "a Drain button per node");

    await page.getByRole("button", { name: "Drain mac-mini-001" }).click();
    await page.locator(`${one} [data-field="drained"]`).waitFor({ state: "visible" });
    await waitForText(page, `${one} button[data-node-action]`, "Undrain");
    await waitForText(page, '[data-total="draining"]', "1");
    assert.equal((await daemon.get("/api/nodes/mac-mini-001")).drained, true);
    assert.ok(await page.locator(`${card("mac-mini-002")} [data-field="drained"]`).isHidden());
    assert.ok(await page.locator("#action-banner").isHidden());
    await screenshot(page, "tokens-admin");

    await page.click("#layout-table");
    const row = '#node-rows tr[data-node-id="mac-mini-001"]';
    await page.locator(row).waitFor();
    assert.ok(await page.locator("#node-actions-head").isVisible());
    assert.equal(await text(page, `${row} button[data-node-action]`), "Undrain");
    await page.getByRole("button", { name: "Undrain mac-mini-001" }).click();
    await waitForText(page, `${row} button[data-node-action]`, "Drain");
    assert.ok(await page.locator(`${row} .badge:text("draining")`).isHidden());
    assert.equal((await daemon.get("/api/nodes/mac-mini-001")).drained, false);
    await screenshot(page, "tokens-admin-table");

    // The tokens file now makes root a viewer (SIGHUP reloads it): the daemon refuses the drain.
    tokens.rewrite({ ...ROLES, root: "viewer" });
    try {
      daemon.child.kill("SIGHUP");
      for (let i = 0; i < 100 && (await daemon.get("/api/whoami")).role !== "viewer"; i++) await new Promise((r) => setTimeout(r, 100));
      await page.getByRole("button", { name: "Drain mac-mini-002" }).click();
      await page.locator("#action-banner").waitFor({ state: "visible" });
      assert.equal(
        await text(page, "#action-message"),
        "Could not drain mac-mini-002: the token 'root' has the role viewer, which may not administer here.",
      );
      assert.equal((await daemon.get("/api/nodes/mac-mini-002")).drained, false);
      await page.click("#action-dismiss");
      assert.ok(await page.locator("#action-banner").isHidden());
    } finally {
      tokens.rewrite(ROLES);
    }
  });
});

test("an open daemon asks for no token and offers Drain", async () => {
  await withDashboard(
    { daemon: { name: "tokens-open", offlineTimeout: "10m" }, beforeOpen: async ({ daemon }) => daemon.heartbeats([heartbeatOf(1)]) },
    async ({ page }) => {
      const one = card("mac-mini-001");
      await page.locator(one).waitFor();
      assert.ok(await page.locator("#sign-in").isHidden());
      assert.ok(await page.locator("#account").isHidden());
      assert.ok(await page.locator("#json-links").isVisible());
      await page.getByRole("button", { name: "Drain mac-mini-001" }).click();
      await page.locator(`${one} [data-field="drained"]`).waitFor({ state: "visible" });
      await waitForText(page, `${one} button[data-node-action]`, "Undrain");
      assert.deepEqual((await stored(page)).session, {});
    },
  );
});
