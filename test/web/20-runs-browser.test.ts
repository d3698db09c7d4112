// The runs view in a real browser (chromium via playwright-core): a run trained in the test is
// drawn with exactly the points of its metrics.jsonl, the best checkpoint marked; a resumed run
// training on appears without a reload; the page works at phone width; no console errors.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import type { Browser, Page } from "playwright-core";
import { webPlugin } from "../../src/serve/web.js";
import { launch, outputDir, pageWithErrors, skipBrowser } from "./browser.js";
import { cli, trainRun } from "./run-fixture.js";

const dir = mkdtempSync(path.join(tmpdir(), "spinn-web-runs-"));
const runsDir = path.join(dir, "runs");
const run = path.join(runsDir, "tiny");

/** [series, step, value] of every point metrics.jsonl's lines give, read here independently. */
function expectedPoints(file: string): [string, number, number][] {
  const points: [string, number, number][] = [];
  for (const line of readFileSync(file, "utf8").trim().split("\n")) {
    const m = JSON.parse(line);
    if (m.type === "train" || m.type === "epoch") {
      points.push(["training loss", m.step, m.loss], ["training accuracy", m.step, m.accuracy]);
    } else if (m.type === "eval") points.push(["dev accuracy", m.step, m.dev_accuracy]);
  }
  return points;
}

async function chartPoints(
  page: Page,
): Promise<{ series: string; step: number; value: number; best_checkpoint: boolean }[]> {
  return JSON.parse((await page.locator("#chart").getAttribute("data-points")) ?? "[]");
}

describe("runs view", { skip: skipBrowser }, () => {
  let app: FastifyInstance;
  let browser: Browser;
  let base: string;

  before(async () => {
    trainRun(path.join(dir, "data"), run);
    app = Fastify();
    await app.register(webPlugin, { runsDir });
    base = await app.listen({ port: 0, host: "127.0.0.1" });
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    await app?.close();
  });

  test("the chart's points are metrics.jsonl's, the best checkpoint marked, updated while the run trains", async () => {
    const { page, errors } = await pageWithErrors(browser);
    await page.goto(`${base}/#runs`);
    const metrics = path.join(run, "metrics.jsonl");
    const lines = () => readFileSync(metrics, "utf8").trim().split("\n").length;
    await page.locator(`#chart[data-lines="${lines()}"]`).waitFor();
    const points = await chartPoints(page);
    assert.deepEqual(
      points.map((p) => [p.series, p.step, p.value]),
      expectedPoints(metrics),
    );
    // One drawn point per value: the symbols in the chart's SVG.
    assert.equal(await page.locator("#chart svg g.mark-symbol.role-mark path").count(), points.length);
    const evals = readFileSync(metrics, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
      .filter((m) => m.type === "eval");
    const bestStep = evals.filter((m) => m.best).at(-1).step;
    assert.deepEqual(
      points.filter((p) => p.best_checkpoint).map((p) => p.step),
      [bestStep],
    );
    assert.equal(await page.locator("#chart svg g.mark-text.role-mark text", { hasText: "best" }).count(), 2);
    await page.screenshot({ path: path.join(outputDir, "runs.png"), fullPage: true });

    // Train on (a resumed run, one more epoch): the open page shows the new lines by itself.
    const before = lines();
    const resumed = spawn(
      process.execPath,
      [cli, "train", "--out", run, "--resume", "--epochs", "3", "--json"],
      { stdio: "ignore" },
    );
    const code = await new Promise((resolve) => resumed.on("exit", resolve));
    assert.equal(code, 0);
    assert.ok(lines() > before);
    await page.locator(`#chart[data-lines="${lines()}"]`).waitFor({ timeout: 15000 });
    assert.deepEqual(
      (await chartPoints(page)).map((p) => [p.series, p.step, p.value]),
      expectedPoints(metrics),
    );

    // Against the training time: every point is there, at its elapsed_seconds.
    await page.selectOption("#axis", "time");
    await page.waitForFunction(() =>
      document.querySelector("#chart svg")?.textContent?.includes("training time"),
    );
    assert.equal(
      await page.locator("#chart svg g.mark-symbol.role-mark path").count(),
      expectedPoints(metrics).length,
    );
    assert.deepEqual(errors, []);
  });

  test("at phone width the page fits the screen and the chart is drawn", async () => {
    const { page, errors } = await pageWithErrors(browser, { width: 390, height: 844 });
    await page.goto(`${base}/#runs`);
    await page.locator("#chart svg").waitFor();
    await page.screenshot({ path: path.join(outputDir, "runs-phone.png"), fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    const wide = await page.evaluate(() =>
      [...document.querySelectorAll("*")]
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth)
        .map((e) => `${e.tagName}.${e.getAttribute("class")}`)
        .slice(0, 5),
    );
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen: ${wide.join(", ")}`);
    assert.deepEqual(errors, []);
  });
});
