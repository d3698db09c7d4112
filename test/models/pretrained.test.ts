// The shipped pretrained models: each loads by name, its card is complete, and `spinn eval` on the
// sample shipped beside it reproduces the accuracy the card states for that sample; the ListOps
// RL-SPINN parses raw expressions by name, right after setup.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { validateTransitions } from "../../src/data/transitions.js";
import { pretrainedDir, pretrainedNames, readCard, readCardFile } from "../../src/models/pretrained.js";

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");
const spinn = (args: string[], input?: string) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", input });

describe("pretrained models", () => {
  test("listops-pi, listops-rl and snli-spinn are shipped", () => {
    for (const name of ["listops-pi", "listops-rl", "snli-spinn"])
      assert.ok(pretrainedNames().includes(name), name);
  });

  for (const name of pretrainedNames()) {
    test(`${name}: the card is complete and its sample accuracy is what spinn eval measures`, () => {
      const card = readCard(name);
      assert.equal(card.name, name);
      for (const key of ["summary", "date", "encoder"] as const) assert.ok(card[key], key);
      assert.ok(card.commands.length > 0 && card.commands.some((c) => c.includes("spinn train")));
      assert.ok(card.test.examples > card.sample.examples && card.test.accuracy > 0);
      const r = spinn([
        "eval",
        "--model",
        name,
        "--data",
        path.join(pretrainedDir(name), card.sample.file),
        "--json",
      ]);
      assert.equal(r.status, 0, r.stderr);
      const measured = JSON.parse(r.stdout.trim().split("\n").pop()!);
      assert.equal(measured.examples, card.sample.examples);
      // Exact on the machine that wrote the card; elsewhere another CPU's float summation order
      // may flip a near-tie, so at most one example may differ.
      const differing = Math.round(Math.abs(measured.accuracy - card.sample.accuracy) * card.sample.examples);
      assert.ok(
        differing <= 1,
        `${name}: sample accuracy ${measured.accuracy}, card says ${card.sample.accuracy}`,
      );
    });
  }

  test("spinn parse --model listops-rl parses raw expressions into trees over their tokens", () => {
    const r = spinn(["parse", "--model", "listops-rl", "--json"], "[MAX 2 9 [MIN 4 7 ] 0 ]\n[SM 3 5 ]\n");
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { tokens: string[]; tree: string });
    assert.deepEqual(
      lines.map((l) => l.tokens.join(" ")),
      ["[MAX 2 9 [MIN 4 7 ] 0 ]", "[SM 3 5 ]"],
    );
    for (const l of lines) {
      const words = l.tree.split(" ").filter((t) => t !== "(" && t !== ")");
      assert.deepEqual(words, l.tokens);
      const transitions = l.tree
        .split(" ")
        .filter((t) => t !== "(")
        .map((t) => (t === ")" ? 1 : 0));
      validateTransitions(transitions, l.tokens.length);
    }
  });
});

test("a damaged card.json is one CheckpointError line naming the file and the field", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "spinn-card-"));
  try {
    const file = path.join(dir, "card.json");
    const good = JSON.parse(readFileSync(path.join(pretrainedDir("listops-pi"), "card.json"), "utf8"));
    const cases: [string, string][] = [
      ["", `${file}: empty file (truncated or never written)`],
      [JSON.stringify({ ...good, task: "x" }), `${file}: task: expected one of nli, listops, got "x"`],
      [
        JSON.stringify({ ...good, commands: [1] }),
        `${file}: commands: expected an array of strings, got [1]`,
      ],
      [
        JSON.stringify({ ...good, sample: {} }),
        `${file}: sample.examples: expected an integer >= 1, got nothing`,
      ],
    ];
    for (const [text, message] of cases) {
      writeFileSync(file, text);
      assert.throws(
        () => readCardFile(file),
        (err: Error) => err.name === "CheckpointError" && err.message === message,
        message,
      );
    }
    writeFileSync(file, JSON.stringify(good));
    assert.deepEqual(readCardFile(file), good);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
