// Browser tests drive Debian's chromium (/usr/bin/chromium; scripts/setup.sh installs it) through
// playwright-core, headless. Where it is absent the tests skip, saying so. Each test collects the
// page's console errors and uncaught exceptions, which must stay empty.
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { repoRoot } from "../data/helpers.js";

export const CHROMIUM = "/usr/bin/chromium";

/** Why browser tests cannot run here, or false when they can. */
export const skipBrowser: string | false = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is not installed (apt-get install chromium; scripts/setup.sh does)`;

/** Screenshots and other files the browser tests leave for people to look at (ignored by git). */
export const outputDir = path.join(repoRoot, "test-output", "web");

export async function launch(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  mkdirSync(outputDir, { recursive: true });
  // Chromium's sandbox needs a non-root user; tests run as root in containers.
  const args = process.getuid?.() === 0 ? ["--no-sandbox"] : [];
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

/** A new page whose console errors and page errors are collected into the returned list. */
export async function pageWithErrors(
  browser: Browser,
  viewport = { width: 1200, height: 900 },
): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") errors.push(`console.${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => errors.push(`request failed: ${r.url()}`));
  return { page, errors };
}
