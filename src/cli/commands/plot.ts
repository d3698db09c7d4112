// `spinn plot`: a run's training curves (loss, training and dev accuracy, the best checkpoint
// marked) as an SVG or PNG file, the same charts as the web page's runs view, for papers and
// for terminals without a browser.
import { existsSync, statSync } from "node:fs";
import type { Command } from "commander";
import { writeFileAtomic } from "../../util/atomic-write.js";
import { UserError } from "../errors.js";
import { choiceOption, intOption } from "../flags.js";
import { writeJsonLine } from "../json-output.js";

interface PlotFlags {
  run: string;
  out: string;
  x: "step" | "time";
  width: number;
  json?: boolean;
}

const FORMATS = [".svg", ".png"];

async function runPlot(f: PlotFlags): Promise<void> {
  if (!existsSync(f.run)) throw new UserError(`--run: ${f.run}: no such directory`);
  if (!statSync(f.run).isDirectory()) throw new UserError(`--run: ${f.run}: not a directory`);
  const format = FORMATS.find((ext) => f.out.toLowerCase().endsWith(ext));
  if (!format) throw new UserError(`--out must end in .svg or .png, got "${f.out}"`);
  const { renderCurvesSvg, svgToPng } = await import("../../plot/curves-file.js");
  const rendered = await renderCurvesSvg({ run: f.run, axis: f.x, width: f.width });
  writeFileAtomic(f.out, format === ".svg" ? rendered.svg : await svgToPng(rendered.svg));
  const summary = {
    out: f.out,
    format: format.slice(1),
    points: rendered.points,
    metricsLines: rendered.metricsLines,
  };
  if (f.json) writeJsonLine(summary);
  else
    process.stderr.write(
      `wrote ${f.out}: ${rendered.points} points from ${rendered.metricsLines} metrics lines\n`,
    );
}

export function registerPlotCommand(program: Command): void {
  program
    .command("plot")
    .description(
      "Draw a training run's curves (training loss, training and dev accuracy, the best checkpoint " +
        "marked) against the step or the training time, as an SVG or PNG file.",
    )
    .requiredOption("--run <dir>", "a run directory written by spinn train --out (its metrics.jsonl)")
    .requiredOption("--out <file>", "the file to write: .svg, or .png (drawn from the SVG)")
    .addOption(choiceOption("--x <axis>", "the horizontal axis", ["step", "time"], { default: "step" }))
    .addOption(intOption("--width <pixels>", "width of each panel", { min: 100, default: 640 }))
    .option("--json", "print a JSON summary line on stdout")
    .addHelpText(
      "after",
      "\nExamples:\n  spinn plot --run runs/lo --out curves.svg\n  spinn plot --run runs/lo --out curves.png --x time",
    )
    .action(async (opts: PlotFlags) => {
      await runPlot(opts);
    });
}
