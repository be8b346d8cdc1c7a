// Debian's chromium, headless, driven by playwright-core: no browser is downloaded.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { screenshotsDir } from "./paths.mjs";

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

// The policy the daemon will send; the tests add it so that an inline script or style, which it
// would block, shows up as a console error.
export const CONTENT_SECURITY_POLICY = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export async function launchBrowser() {
  // playwright-core makes a fresh, temporary user data dir for each launch.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

// A page on a fresh context that records console errors, page errors and every request.
export async function openPage(browser, { colorScheme = "light", viewport = { width: 1440, height: 900 } } = {}) {
  const context = await browser.newContext({ colorScheme, viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const errors = [];
  const requests = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => errors.push(`page error: ${error.message}`));
  page.on("request", (request) => requests.push(new URL(request.url())));
  await page.route(
    (url) => url.pathname === "/",
    async (route) => {
      const response = await route.fetch();
      await route.fulfill({
        response,
        headers: { ...response.headers(), "content-security-policy": CONTENT_SECURITY_POLICY },
      });
    },
  );
  return {
    page,
    context,
    errors,
    requests,
    // How many requests went to an API path (e.g. "/api/nodes") so far.
    count(path) {
      return requests.filter((url) => url.pathname === path).length;
    },
    async close() {
      await context.close();
    },
  };
}

export async function screenshot(page, name, options = {}) {
  mkdirSync(screenshotsDir, { recursive: true });
  const path = join(screenshotsDir, `${name}.png`);
  await page.screenshot({ path, ...options });
  return path;
}
