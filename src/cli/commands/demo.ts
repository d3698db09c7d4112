// `spinn demo`: the embedded default job. Until the SPINN model lands it is an end-to-end run
// through the engine: generate a three-class spiral data set (not linearly separable), train a
// small ReLU MLP with Adam, report held-out accuracy and save the weights as safetensors.
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import {
  Adam,
  crossEntropy,
  keep,
  linear,
  manualSeed,
  noGrad,
  rand,
  randn,
  saveSafetensors,
  scope,
  type Tensor,
  tensor,
  zeros,
} from "../../engine/index.js";
import { UserError } from "../errors.js";

interface DemoOptions {
  seed: string;
  steps: string;
  out: string;
  json?: boolean;
}

const CLASSES = 3;

/** n points per class on three interleaved spiral arms, with Gaussian noise on the angle. */
function spirals(n: number): { x: Tensor; y: Tensor } {
  return scope(() => {
    const t = rand([CLASSES * n], { dtype: "float64" }).toFloat64Array();
    const noise = randn([CLASSES * n], { dtype: "float64" }).toFloat64Array();
    const xs = new Float32Array(CLASSES * n * 2);
    const ys = new Int32Array(CLASSES * n);
    for (let i = 0; i < CLASSES * n; i++) {
      const k = i % CLASSES;
      const r = t[i]!;
      const angle = 4 * r + (2 * Math.PI * k) / CLASSES + 0.2 * noise[i]!;
      xs[2 * i] = r * Math.cos(angle);
      xs[2 * i + 1] = r * Math.sin(angle);
      ys[i] = k;
    }
    return { x: tensor(xs, { shape: [CLASSES * n, 2] }), y: tensor(ys) };
  });
}

function parseIntFlag(value: string, flag: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UserError(`${flag} must be an integer >= ${min}, got "${value}"`);
  return n;
}

export function runDemo(o: DemoOptions): void {
  const seed = parseIntFlag(o.seed, "--seed", 0);
  const steps = parseIntFlag(o.steps, "--steps", 1);
  manualSeed(seed);
  const train = spirals(500);
  const test = spirals(200);
  const hidden = 64;
  const init = (rows: number, cols: number) =>
    keep(
      randn([rows, cols])
        .mul(Math.sqrt(2 / cols))
        .setRequiresGrad(),
    );
  const params: [string, Tensor][] = [
    ["layer1.weight", init(hidden, 2)],
    ["layer1.bias", keep(zeros([hidden]).setRequiresGrad())],
    ["layer2.weight", init(hidden, hidden)],
    ["layer2.bias", keep(zeros([hidden]).setRequiresGrad())],
    ["out.weight", init(CLASSES, hidden)],
    ["out.bias", keep(zeros([CLASSES]).setRequiresGrad())],
  ];
  const p = Object.fromEntries(params);
  const forward = (x: Tensor) =>
    linear(
      linear(
        linear(x, p["layer1.weight"]!, p["layer1.bias"]).relu(),
        p["layer2.weight"]!,
        p["layer2.bias"],
      ).relu(),
      p["out.weight"]!,
      p["out.bias"],
    );
  const accuracy = (d: { x: Tensor; y: Tensor }) =>
    noGrad(() => scope(() => forward(d.x).argmax(1).eq(d.y).to("float32").mean().item()));

  const opt = new Adam(params, { lr: 0.01 });
  const started = Date.now();
  let loss = Number.NaN;
  for (let step = 1; step <= steps; step++) {
    loss = scope(() => {
      opt.zeroGrad();
      const l = crossEntropy(forward(train.x), train.y);
      l.backward();
      opt.step();
      return l.item();
    });
    if (!o.json && (step % 100 === 0 || step === steps)) {
      process.stdout.write(`step ${step}/${steps}  loss ${loss.toFixed(4)}\n`);
    }
  }
  const summary = {
    task: "spirals (3 classes, generated)",
    model: "MLP 2-64-64-3",
    steps,
    seed,
    final_loss: +loss.toFixed(4),
    train_accuracy: +accuracy(train).toFixed(4),
    test_accuracy: +accuracy(test).toFixed(4),
    seconds: +((Date.now() - started) / 1000).toFixed(2),
    saved: path.join(o.out, "model.safetensors"),
  };
  mkdirSync(o.out, { recursive: true });
  saveSafetensors(summary.saved, new Map(params));
  if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    process.stdout.write(
      `test accuracy ${(summary.test_accuracy * 100).toFixed(1)}% (train ${(summary.train_accuracy * 100).toFixed(1)}%), ` +
        `${summary.seconds} s; weights saved to ${summary.saved}\n`,
    );
  }
  opt.dispose();
  for (const [, t] of params) t.dispose();
  for (const d of [train, test]) {
    d.x.dispose();
    d.y.dispose();
  }
}

export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description("Run the embedded default job: train and evaluate on generated data, then save the model.")
    .option("--seed <n>", "random seed", "1")
    .option("--steps <n>", "training steps", "400")
    .option("--out <dir>", "where to save the model", "runs/demo")
    .option("--json", "print only a JSON summary line")
    .addHelpText("after", "\nExamples:\n  spinn demo\n  spinn demo --seed 7 --json")
    .action((o: DemoOptions) => runDemo(o));
}
