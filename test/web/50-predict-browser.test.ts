// The predict view in a real browser against the real API (spinn serve's buildServer, with the
// web plugin registered into it, serving the shipped models): the label shown is the API's, each
// tree has one leaf per word and one composition per REDUCE of the API's tree, two models' trees
// stand side by side with exactly their shared constituents highlighted, the form works from the
// keyboard, and the page fits a phone's width with no console errors. Skips with a message where
// chromium or the server (src/serve/server.ts, built separately) is missing.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import type { FastifyInstance } from "fastify";
import type { Browser, Page } from "playwright-core";
import { webPlugin } from "../../src/serve/web.js";
import { parseBracketed, sharedSpans } from "../../src/web/trees.js";
import { repoRoot } from "../data/helpers.js";
import { launch, outputDir, pageWithErrors, skipBrowser } from "./browser.js";

const serverModule = path.join(repoRoot, "dist", "src", "serve", "server.js");
const optionsModule = path.join(repoRoot, "dist", "src", "serve", "options.js");
const skip =
  skipBrowser ||
  (existsSync(serverModule)
    ? false
    : "no API server in this tree (src/serve/server.ts): the predict view needs it");

interface Prediction {
  label: string;
  probabilities: Record<string, number>;
  trees: Record<string, string | null>;
}

/** Words and REDUCEs of a bracketed tree, counted from the string itself. */
function counts(tree: string): { leaves: number; reduces: number } {
  const tokens = tree.split(" ").filter((t) => t !== "");
  return {
    leaves: tokens.filter((t) => t !== "(" && t !== ")").length,
    reduces: tokens.filter((t) => t === "(").length,
  };
}

async function drawnCounts(
  page: Page,
  card: string,
  side: string,
): Promise<{ leaves: number; reduces: number }> {
  const block = page.locator(`.result[data-model="${card}"] .tree-block[data-side="${side}"] svg.tree`);
  return {
    leaves: await block.locator("g.node.leaf").count(),
    reduces: await block.locator("g.node.internal").count(),
  };
}

describe("predict view", { skip }, () => {
  let app: FastifyInstance;
  let browser: Browser;
  let base: string;
  const predict = async (model: string, inputs: object): Promise<Prediction> => {
    const r = await fetch(`${base}/v1/predict`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, inputs }),
    });
    assert.equal(r.status, 200);
    return ((await r.json()) as { predictions: Prediction[] }).predictions[0]!;
  };

  before(async () => {
    const { buildServer } = await import(pathToFileURL(serverModule).href);
    const { defaultServeOptions } = await import(pathToFileURL(optionsModule).href);
    const options = defaultServeOptions(["snli-spinn", "listops-pi", "listops-rl"]);
    app = await buildServer({ ...options, plugins: [{ plugin: webPlugin, options: {} }] });
    base = await app.listen({ port: 0, host: "127.0.0.1" });
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    await app?.close();
  });

  test("NLI from the keyboard: the API's label, one leaf per word and one node per REDUCE", async () => {
    const { page, errors } = await pageWithErrors(browser);
    await page.goto(base);
    await page.locator("#model option").first().waitFor({ state: "attached" });
    await page.selectOption("#model", "snli-spinn");
    // Focus order: the model, the two sentences, the button (the only NLI model: nothing to compare).
    await page.focus("#model");
    const order: string[] = [];
    for (let i = 0; i < 3; i++) {
      await page.keyboard.press("Tab");
      order.push(await page.evaluate(() => document.activeElement?.id ?? ""));
    }
    assert.deepEqual(order, ["premise", "hypothesis", "predict-button"]);
    const premise = "A man is playing a guitar on stage.";
    const hypothesis = "A person makes music.";
    await page.fill("#premise", premise);
    await page.fill("#hypothesis", hypothesis);
    await page.focus("#hypothesis");
    await page.keyboard.press("Enter");
    const card = page.locator('.result[data-model="snli-spinn"]');
    await card.waitFor();
    const expected = await predict("snli-spinn", { premise, hypothesis });
    assert.equal(await card.locator(".label").getAttribute("data-label"), expected.label);
    assert.equal(await card.locator('[role="meter"]').count(), Object.keys(expected.probabilities).length);
    for (const side of ["premise", "hypothesis"]) {
      const tree = expected.trees[side]!;
      assert.deepEqual(await drawnCounts(page, "snli-spinn", side), counts(tree));
      const words = await card.locator(`.tree-block[data-side="${side}"] g.node.leaf text`).allTextContents();
      assert.deepEqual(
        words.sort(),
        tree
          .split(" ")
          .filter((t) => t !== "(" && t !== ")")
          .sort(),
      );
    }
    await page.screenshot({ path: path.join(outputDir, "predict.png"), fullPage: true });
    assert.deepEqual(errors, []);
  });

  test("two ListOps models side by side, their shared constituents highlighted", async () => {
    const { page, errors } = await pageWithErrors(browser);
    await page.goto(base);
    await page.locator("#model option").first().waitFor({ state: "attached" });
    await page.selectOption("#model", "listops-pi");
    await page.selectOption("#compare-model", "listops-rl");
    const expression = "[MAX 2 9 [MIN 4 7 ] 0 ]";
    await page.fill("#expression", expression);
    await page.click("#predict-button");
    await page.locator('.result[data-model="listops-rl"]').waitFor();
    const [pi, rl] = [
      await predict("listops-pi", { expression }),
      await predict("listops-rl", { expression }),
    ];
    const shared = [
      ...sharedSpans(parseBracketed(pi.trees.expression!), parseBracketed(rl.trees.expression!)),
    ].sort();
    for (const [name, p] of [
      ["listops-pi", pi],
      ["listops-rl", rl],
    ] as const) {
      const card = page.locator(`.result[data-model="${name}"]`);
      assert.equal(await card.locator(".label").getAttribute("data-label"), p.label);
      assert.deepEqual(await drawnCounts(page, name, "expression"), counts(p.trees.expression!));
      const highlighted = await card
        .locator("g.node.internal.shared")
        .evaluateAll((nodes) => nodes.map((n) => n.getAttribute("data-span")!));
      assert.deepEqual(highlighted.sort(), shared);
    }
    await page.screenshot({ path: path.join(outputDir, "predict-compare.png"), fullPage: true });
    assert.deepEqual(errors, []);
  });

  test("at phone width the predict view fits the screen", async () => {
    const { page, errors } = await pageWithErrors(browser, { width: 390, height: 844 });
    await page.goto(base);
    await page.locator("#model option").first().waitFor({ state: "attached" });
    await page.selectOption("#model", "snli-spinn");
    await page.click("#predict-button");
    await page.locator(".result svg.tree").first().waitFor();
    await page.screenshot({ path: path.join(outputDir, "predict-phone.png"), fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
    assert.deepEqual(errors, []);
  });
});
