import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { readListOps } from "../../src/data/listops.js";
import { fixtureDir, repoRoot } from "./helpers.js";

const CLI = join(repoRoot, "dist/src/cli/main.js");

let fx: Awaited<ReturnType<typeof fixtureDir>>;
before(async () => {
  fx = await fixtureDir();
});
after(async () => {
  await fx.cleanup();
});

function spinn(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// biome-ignore lint/suspicious/noExplicitAny: the JSON summaries are checked field by field
function lastJson(stdout: string): Record<string, any> {
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!);
}

test("listops generate writes a data set that reads back with matching labels", async () => {
  const out = join(fx.dir, "sub", "listops.tsv");
  const r = spinn(
    "listops",
    "generate",
    "--count",
    "300",
    "--seed",
    "4",
    "--out",
    out,
    "--max-length",
    "60",
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  const summary = lastJson(r.stdout);
  assert.equal(summary["command"], "listops generate");
  assert.equal(summary["count"], 300);
  assert.ok(summary["lengths"].max <= 60);
  const read = await readListOps(out);
  assert.equal(read.examples.length, 300);
  // Same seed, same file.
  const out2 = join(fx.dir, "again.tsv");
  assert.equal(
    spinn("listops", "generate", "--count", "300", "--seed", "4", "--out", out2, "--max-length", "60").code,
    0,
  );
  assert.equal(await readFile(out2, "utf8"), await readFile(out, "utf8"));
});

test("listops generate --max-draws: how many draws it may take before giving up", () => {
  const args = ["listops", "generate", "--count", "3", "--seed", "1", "--min-length", "101", "--json"];
  // 100 draws per example + 10,000 by default; 10 draws cannot find three expressions this long.
  const few = spinn(...args, "--out", join(fx.dir, "few.tsv"), "--max-draws", "10");
  assert.equal(few.code, 2);
  assert.match(few.stderr, /only [0-2] of 3 examples after 10 draws/);
  const r = spinn(...args, "--out", join(fx.dir, "long.tsv"), "--max-draws", "100000");
  assert.equal(r.code, 0, r.stderr);
  assert.ok(lastJson(r.stdout)["lengths"].min >= 101);
});

test("data stats on NLI: counts, labels, lengths, parse errors, coverage; the report on stderr with --json", async () => {
  const data = await fx.write(
    "pairs.jsonl",
    [
      {
        gold_label: "entailment",
        sentence1_binary_parse: "( ( A dog ) runs )",
        sentence2_binary_parse: "( A dog )",
      },
      { gold_label: "-", sentence1_binary_parse: "( a b )", sentence2_binary_parse: "( a b )" },
      { gold_label: "neutral", sentence1_binary_parse: "( ( a b ) )", sentence2_binary_parse: "( a b )" },
      { gold_label: "contradiction", sentence1: "The dog sleeps.", sentence2: "A cat." },
    ]
      .map((o) => JSON.stringify(o))
      .join("\n"),
  );
  const emb = await fx.write("vec.txt", "dog 1 2\nthe 0 1\ncat 3 3\n");
  const r = spinn("data", "stats", "--data", data, "--embeddings", emb, "--lowercase", "--json");
  assert.equal(r.code, 0, r.stderr);
  // With --json the human report is on stderr, stdout holds only the JSON line.
  assert.match(r.stderr, /lines: 4, pairs: 2, skipped: 1 without gold label \('-'\), 1 invalid/);
  assert.match(r.stderr, /parse errors: 1 \(lines skipped\)/);
  assert.ok(
    r.stderr.includes(
      `${data}:3: sentence1_binary_parse: REDUCE with fewer than two items on the stack (token 6)`,
    ),
  );
  const s = lastJson(r.stdout);
  assert.equal(s["examples"], 2);
  assert.deepEqual(s["labels"], { entailment: 1, neutral: 0, contradiction: 1 });
  assert.deepEqual(s["skipped"], { no_gold_label: 1, invalid: 1 });
  assert.equal(s["without_parse"], 1);
  assert.equal(s["lengths"].premise.max, 4);
  assert.equal(s["embeddings"].dim, 2);
  assert.equal(s["embeddings"].found, 3);
  assert.deepEqual(s["embeddings"].most_frequent_missing, ["a", ".", "runs", "sleeps"]);
});

test("data stats on ListOps, and user errors are one line with exit code 2", async () => {
  const data = await fx.write("lo.tsv", "9\t( ( ( [MAX 2 ) 9 ) ] )\n2\t( ( ( [MIN 2 ) 9 ) ] )\n");
  const r = spinn("data", "stats", "--data", data, "--json");
  assert.equal(r.code, 0, r.stderr);
  const s = lastJson(r.stdout);
  assert.equal(s["task"], "listops");
  assert.equal(s["examples"], 2);
  assert.equal(s["depth"].max, 1);

  const cases: [string[], RegExp][] = [
    [
      ["data", "stats", "--data", join(fx.dir, "missing.jsonl")],
      /^spinn: --data: no such file: .*missing\.jsonl\n$/,
    ],
    [
      ["data", "stats", "--data", data, "--format", "csv"],
      /^spinn: --format must be one of nli-jsonl, nli-txt, listops, got "csv"\n$/,
    ],
    [
      ["data", "stats", "--data", data, "--embeddings", join(fx.dir, "nope.txt")],
      /^spinn: --embeddings: no such file: .*nope\.txt\n$/,
    ],
    [
      ["listops", "generate", "--count", "0", "--out", join(fx.dir, "x")],
      /^spinn: --count must be an integer >= 1, got "0"\n$/,
    ],
    [
      ["listops", "generate", "--count", "500", "--max-length", "4", "--out", join(fx.dir, "x")],
      /^spinn: ListOps generator: only \d+ of 500/,
    ],
  ];
  for (const [args, pattern] of cases) {
    const e = spinn(...args);
    assert.equal(e.code, 2, args.join(" "));
    assert.match(e.stderr, pattern);
  }
  const unknown = await fx.write("weird.dat", "hello\n");
  const u = spinn("data", "stats", "--data", unknown);
  assert.equal(u.code, 2);
  assert.match(u.stderr, /weird\.dat:1: cannot tell the format/);
});
