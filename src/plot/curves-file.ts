// A run's training curves as a file (`spinn plot`): the Vega-Lite spec the web page draws
// (web/curves.ts), rendered to SVG in Node by vega's headless renderer (no browser, no canvas),
// and to PNG from that SVG by resvg. vega and resvg are loaded only when a plot is made.
import path from "node:path";
import { readRunMetrics } from "../training/run-metrics.js";
import { CheckpointError } from "../util/checked-json.js";
import { type CurveAxis, curvePoints, curvesSpec } from "../web/curves.js";

export interface PlotOptions {
  run: string;
  axis: CurveAxis;
  width: number;
}

export interface RenderedCurves {
  svg: string;
  points: number;
  metricsLines: number;
}

/** The curves of the run in `o.run` as SVG; a run without metrics to draw is a CheckpointError. */
export async function renderCurvesSvg(o: PlotOptions): Promise<RenderedCurves> {
  const { file, entries } = readRunMetrics(o.run);
  const points = curvePoints(entries).filter((p) => o.axis === "step" || p.elapsed_seconds !== null);
  if (entries.length === 0) throw new CheckpointError(`${file}: no metrics yet (no step logged)`);
  if (points.length === 0) {
    const why =
      o.axis === "time"
        ? "no line has a timestamp (written before metrics had them; use --x step)"
        : "no loss or accuracy to draw";
    throw new CheckpointError(`${file}: ${why}`);
  }
  const title = path.basename(path.resolve(o.run));
  const spec = curvesSpec(points, { title, axis: o.axis, width: o.width, height: Math.round(o.width * 0.4) });
  const [vega, vegaLite] = await Promise.all([import("vega"), import("vega-lite")]);
  const view = new vega.View(vega.parse(vegaLite.compile(spec as never).spec), { renderer: "none" });
  try {
    const svg = await view.toSVG();
    return { svg, points: points.length, metricsLines: entries.length };
  } finally {
    view.finalize();
  }
}

/** A PNG of `svg` at `scale` times its size, on white, text in the system's fonts. */
export async function svgToPng(svg: string, scale = 2): Promise<Buffer> {
  const { Resvg } = await import("@resvg/resvg-js");
  const resvg = new Resvg(svg, {
    background: "white",
    fitTo: { mode: "zoom", value: scale },
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans", sansSerifFamily: "DejaVu Sans" },
  });
  return resvg.render().asPng();
}
