// What every browser test shares: one browser per test file, a fresh daemon and page per test,
// and the check that the page logged no error.
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { Daemon } from "./daemon.mjs";
import { launchBrowser, openPage } from "./browser.mjs";

let browser;

export function useBrowser() {
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });
}

// Runs `body({daemon, page, ...})` with a new daemon and a page on the dashboard; stops both
// afterwards, and fails when the page logged an error (other than those `allowErrors` matches).
export async function withDashboard(options, body) {
  const { daemon: daemonOptions = {}, colorScheme, viewport, allowErrors, path = "/", beforeOpen } = options;
  const daemon = await Daemon.start(daemonOptions);
  const session = await openPage(browser, { colorScheme, viewport });
  try {
    if (beforeOpen) await beforeOpen({ daemon, ...session });
    await session.page.goto(`${daemon.url}${path}`);
    await body({ daemon, ...session });
    const errors = allowErrors ? session.errors.filter((e) => !allowErrors.test(e)) : session.errors;
    assert.deepEqual(errors, [], "the page logged errors");
    for (const url of session.requests) {
      assert.equal(url.origin, daemon.url, `the page fetched ${url.href}: it must use nothing but the daemon`);
    }
  } finally {
    await session.close();
    await daemon.stop();
  }
}

export const card = (nodeId) => `article[data-node-id="${nodeId}"]`;

export async function text(page, selector) {
  return (await page.locator(selector).first().textContent())?.trim();
}

// Waits until the element's text (trimmed) equals `expected`, then returns it.
export async function waitForText(page, selector, expected, timeout = 15_000) {
  await page.waitForFunction(
    ([s, e]) => document.querySelector(s)?.textContent.trim() === e,
    [selector, expected],
    { timeout, polling: 100 },
  );
}

export async function count(page, selector) {
  return page.locator(selector).count();
}
