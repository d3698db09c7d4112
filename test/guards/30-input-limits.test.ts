// Input limits of predict and parse: a line's bytes (checked while reading, so an endless line is
// never buffered) and a sentence's tokens, each a one-line error naming the line and the limit.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { lines } from "../../src/cli/line-batches.js";
import { generateListOps } from "../../src/index.js";

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");
const dir = mkdtempSync(path.join(tmpdir(), "spinn-limits-"));
const tiny = ["--d-embed", "16", "--d-hidden", "16", "--d-tracker", "8", "--d-mlp", "16", "--n-mlp", "1"];

function spinn(args: string[], input?: string) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", input, maxBuffer: 1 << 26 });
}

/** A ListOps expression of n tokens, without brackets: [SM 1 1 ... 1 ]. */
function expression(n: number): string {
  return `[SM ${"1 ".repeat(n - 2)}]`;
}

async function collect(chunks: (string | Buffer)[], maxBytes: number): Promise<string[]> {
  const out: string[] = [];
  const tooLong = (n: number): never => {
    throw new Error(`line ${n} too long`);
  };
  for await (const l of lines(Readable.from(chunks), tooLong, maxBytes)) out.push(l ?? "<too long>");
  return out;
}

describe("the line reader", () => {
  test("splits lines across chunks, drops \\r of \\r\\n, keeps a last line without a break", async () => {
    assert.deepEqual(await collect(["ab", "c\r", "\nde\n\nf"], 10), ["abc", "de", "", "f"]);
    assert.deepEqual(
      await collect([Buffer.from("é\n"), Buffer.from([0xc3]), Buffer.from([0xa9, 0x0a])], 10),
      ["é", "é"],
    );
  });

  test("drops a byte-order mark before the first line only, whole or split across chunks", async () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    assert.deepEqual(await collect([Buffer.concat([bom, Buffer.from("a\n")]), bom, "b"], 10), [
      "a",
      "\ufeffb",
    ]);
    assert.deepEqual(
      await collect([bom.subarray(0, 2), Buffer.concat([bom.subarray(2), Buffer.from("a")])], 10),
      ["a"],
    );
  });

  test("a line of exactly the limit passes; one byte more is an error at its line", async () => {
    assert.deepEqual(await collect(["12345\r\n", "123", "45\n"], 5), ["12345", "12345"]);
    await assert.rejects(collect(["ok\n", "123", "456\n"], 5), /line 2 too long/);
    await assert.rejects(collect(["ok\n12345", "6"], 5), /line 2 too long/);
    // Past the limit the reader stops at once: the rest of the line is never read.
    let pulled = 0;
    const endless = new Readable({
      read() {
        pulled++;
        this.push(pulled > 1000 ? null : "x".repeat(1024));
      },
    });
    await assert.rejects(
      (async () => {
        for await (const _ of lines(
          endless,
          (n) => {
            throw new Error(`line ${n} too long`);
          },
          4096,
        )) {
          // no line ever ends
        }
      })(),
      /line 1 too long/,
    );
    assert.ok(pulled < 10, `read ${pulled} chunks`);
  });
});

describe("predict and parse limits", () => {
  const data = path.join(dir, "d.tsv");
  writeFileSync(data, `${generateListOps({ count: 100, seed: 3, maxLength: 12 }).lines.join("\n")}\n`);
  const run = path.join(dir, "run");
  const t = spinn([
    "train",
    "--task",
    "listops",
    "--train",
    data,
    "--dev",
    data,
    "--model",
    "spinn",
    "--out",
    run,
    ...tiny,
  ]);
  assert.equal(t.status, 0, t.stderr);

  test("a sentence over --max-tokens is an error at its line; the default admits 5,000 tokens", () => {
    const ok = JSON.stringify({ sentence: "( ( ( [MAX 2 ) 9 ) ] )" });
    const long = JSON.stringify({ sentence: expression(30) });
    const r = spinn(["predict", "--model-dir", run, "--max-tokens", "20"], `${ok}\n${long}\n`);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(
      r.stderr,
      "spinn: <stdin>:2: 30 tokens, more than the limit of 20 (raise it with --max-tokens)\n",
    );
    const p = spinn(["parse", "--model-dir", run, "--max-tokens", "20"], `[MAX 2 9 ]\n\n${expression(21)}\n`);
    assert.equal(p.status, 2, p.stderr);
    assert.equal(
      p.stderr,
      "spinn: <stdin>:3: 21 tokens, more than the limit of 20 (raise it with --max-tokens)\n",
    );
    const big = spinn(["predict", "--model-dir", run], `${JSON.stringify({ sentence: expression(5000) })}\n`);
    assert.equal(big.status, 0, big.stderr);
    assert.equal(big.stdout.trim().split("\n").length, 1);
    const bad = spinn(["parse", "--model-dir", run, "--max-tokens", "0"], "[MAX 1 ]\n");
    assert.equal(bad.stderr, 'spinn: --max-tokens must be an integer >= 1, got "0"\n');
  });

  test("predict and parse read past a byte-order mark, as eval does", () => {
    const file = path.join(dir, "bom.jsonl");
    const line = JSON.stringify({ sentence: "( ( ( [MAX 2 ) 9 ) ] )" });
    writeFileSync(file, `\ufeff${line}\r\n${line}\r\n`);
    const r = spinn(["predict", "--model-dir", run, "--input", file]);
    assert.equal(r.status, 0, r.stderr);
    const plain = spinn(["predict", "--model-dir", run], `${line}\n${line}\n`);
    assert.equal(r.stdout, plain.stdout);
    const p = spinn(["parse", "--model-dir", run, "--json"], "\ufeff[MAX 2 9 ]\n");
    assert.equal(p.status, 0, p.stderr);
    assert.deepEqual(JSON.parse(p.stdout).tokens, ["[MAX", "2", "9", "]"]);
  });

  test("a line over --max-line-bytes is an error at its line", () => {
    const file = path.join(dir, "in.jsonl");
    const ok = JSON.stringify({ sentence: "( ( ( [MAX 2 ) 9 ) ] )" });
    writeFileSync(file, `${ok}\n${ok}\n${JSON.stringify({ sentence: expression(100) })}\n`);
    const r = spinn(["predict", "--model-dir", run, "--input", file, "--max-line-bytes", "100"]);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(
      r.stderr,
      `spinn: ${file}:3: line longer than 100 bytes (the limit; raise it with --max-line-bytes)\n`,
    );
  });

  // With a reader that waits for the line's end this would hang: the timeout makes it a failure.
  test("a 5 MB line of 1.3 M words is refused at the default 1 MiB without waiting for its end", {
    timeout: 60_000,
  }, async () => {
    // stdin stays open after 5 MB without a line break: a reader that buffers whole lines would
    // wait for the rest; this one must fail as soon as the line passes 1 MiB.
    const child = spawn(process.execPath, [cli, "parse", "--model-dir", run], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdin.on("error", () => {}); // the child may exit before taking all of it
    child.stdin.write("1 ".repeat(2_600_000).slice(0, 5_000_000));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    child.stdin.destroy();
    assert.equal(code, 2, stderr);
    assert.equal(
      stderr,
      "spinn: <stdin>:1: line longer than 1048576 bytes (the limit; raise it with --max-line-bytes)\n",
    );
  });
});
