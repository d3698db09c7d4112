// `spinn plot`: the SVG holds one point per value of metrics.jsonl (read back from the drawn
// points' labels, against the file read here), the PNG is a PNG of the same picture, and a
// missing run, a directory that is not a run, empty metrics or a bad --out are one line, exit 2.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { before, describe, test } from "node:test";
import { spinn, trainRun } from "./run-fixture.js";

const dir = mkdtempSync(path.join(tmpdir(), "spinn-plot-"));
const run = path.join(dir, "tiny");

/** "series|step|value" of every point the run's metrics give, value as the chart rounds it. */
function expectedPoints(): string[] {
  const out: string[] = [];
  for (const line of readFileSync(path.join(run, "metrics.jsonl"), "utf8").trim().split("\n")) {
    const m = JSON.parse(line);
    const point = (series: string, value: number) => out.push(`${series}|${m.step}|${value.toFixed(4)}`);
    if (m.type === "train" || m.type === "epoch") {
      point("training loss", m.loss);
      point("training accuracy", m.accuracy);
    } else if (m.type === "eval") point("dev accuracy", m.dev_accuracy);
  }
  return out.sort();
}

/** The drawn points of an SVG: the symbols of its data marks, read back from their labels. */
function drawnPoints(svg: string): string[] {
  const points: string[] = [];
  for (const group of svg.matchAll(/<g class="mark-symbol role-mark [^"]*"[^>]*>(.*?)<\/g>/gs)) {
    for (const label of group[1]!.matchAll(/aria-label="([^"]*)"/g)) {
      const fields = Object.fromEntries(
        label[1]!.split("; ").map((kv) => kv.split(": ") as [string, string]),
      );
      points.push(`${fields.series}|${fields.step}|${fields.value}`);
    }
  }
  return points.sort();
}

function assertOneLine(r: ReturnType<typeof spinn>, message: string): void {
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr, `spinn: ${message}\n`);
}

describe("spinn plot", () => {
  before(() => trainRun(path.join(dir, "data"), run));

  test("the SVG has one point per value of each metrics line, against the step and the time", () => {
    for (const axis of ["step", "time"]) {
      const out = path.join(dir, `curves-${axis}.svg`);
      const r = spinn(["plot", "--run", run, "--out", out, "--x", axis, "--json"]);
      assert.equal(r.status, 0, r.stderr);
      const svg = readFileSync(out, "utf8");
      assert.match(svg, /^<svg /);
      assert.deepEqual(drawnPoints(svg), expectedPoints());
      const summary = JSON.parse(r.stdout);
      assert.equal(summary.points, expectedPoints().length);
      assert.equal(
        summary.metrics_lines,
        readFileSync(path.join(run, "metrics.jsonl"), "utf8").trim().split("\n").length,
      );
      assert.match(svg, axis === "step" ? />step</ : />training time \(seconds\)</);
      assert.equal((svg.match(/>best</g) ?? []).length, 2, "the best checkpoint marked in both panels");
    }
  });

  test("the PNG is a PNG twice the SVG's size", () => {
    const svgFile = path.join(dir, "c.svg");
    const pngFile = path.join(dir, "c.png");
    assert.equal(spinn(["plot", "--run", run, "--out", svgFile]).status, 0);
    const r = spinn(["plot", "--run", run, "--out", pngFile]);
    assert.equal(r.status, 0, r.stderr);
    const png = readFileSync(pngFile);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const [width, height] = [png.readUInt32BE(16), png.readUInt32BE(20)];
    const svg = readFileSync(svgFile, "utf8");
    const m = /^<svg [^>]*width="(\d+)" height="(\d+)"/.exec(svg)!;
    assert.deepEqual([width, height], [Number(m[1]) * 2, Number(m[2]) * 2]);
  });

  test("errors: one line, exit code 2", () => {
    const out = path.join(dir, "x.svg");
    const missing = path.join(dir, "nope");
    assertOneLine(spinn(["plot", "--run", missing, "--out", out]), `--run: ${missing}: no such directory`);
    const notRun = path.join(dir, "data");
    assertOneLine(
      spinn(["plot", "--run", notRun, "--out", out]),
      `${notRun}/metrics.jsonl: no such file (not a training run?)`,
    );
    const empty = path.join(dir, "empty");
    mkdirSync(empty);
    writeFileSync(path.join(empty, "metrics.jsonl"), "");
    assertOneLine(
      spinn(["plot", "--run", empty, "--out", out]),
      `${empty}/metrics.jsonl: no metrics yet (no step logged)`,
    );
    const old = path.join(dir, "old");
    mkdirSync(old);
    writeFileSync(
      path.join(old, "metrics.jsonl"),
      '{"type":"eval","step":5,"epoch":1,"dev_accuracy":0.5,"best":true}\n',
    );
    assertOneLine(
      spinn(["plot", "--run", old, "--out", out, "--x", "time"]),
      `${old}/metrics.jsonl: no line has a timestamp (written before metrics had them; use --x step)`,
    );
    assertOneLine(
      spinn(["plot", "--run", run, "--out", path.join(dir, "c.pdf")]),
      `--out must end in .svg or .png, got "${path.join(dir, "c.pdf")}"`,
    );
    const badAxis = spinn(["plot", "--run", run, "--out", out, "--x", "epoch"]);
    assert.equal(badAxis.status, 2);
    assert.match(badAxis.stderr, /^spinn: --x must be one of step, time, got "epoch"\n$/);
    assertOneLine(
      spinn(["plot", "--run", run, "--out", out, "--width", "5"]),
      '--width must be an integer >= 100, got "5"',
    );
  });
});
