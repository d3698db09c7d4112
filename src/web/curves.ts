// The training curves of one run as a Vega-Lite spec: training loss in one panel, training and
// dev accuracy in the other, against the step or the training time, with the best checkpoint
// marked. One spec for the web page's runs view (rendered by vega-embed in the browser) and for
// `spinn plot` (rendered to SVG in Node), so both show the same thing. Pure: no Node, no DOM.
import type { MetricsEntry } from "../training/run-metrics.js";

/** One plotted point. Train and epoch lines give a loss and an accuracy point, eval lines one. */
export interface CurvePoint {
  panel: "loss" | "accuracy";
  series: "training loss" | "training accuracy" | "dev accuracy";
  step: number;
  /** Seconds of training when the line was written (null: a line from before timestamps). */
  elapsed_seconds: number | null;
  time: string | null;
  value: number;
  /** The evaluation whose model is kept in best/. */
  best_checkpoint: boolean;
}

export type CurveAxis = "step" | "time";

/** The points of `entries` (diverged lines and a diverged epoch's null loss give none). */
export function curvePoints(entries: readonly MetricsEntry[]): CurvePoint[] {
  let bestIndex = -1;
  entries.forEach((e, i) => {
    if (e.type === "eval" && e.best) bestIndex = i;
  });
  const points: CurvePoint[] = [];
  entries.forEach((e, i) => {
    const at = { step: e.step, elapsed_seconds: e.elapsed_seconds ?? null, time: e.time ?? null };
    if (e.type === "train" || e.type === "epoch") {
      if (e.loss !== null)
        points.push({ panel: "loss", series: "training loss", ...at, value: e.loss, best_checkpoint: false });
      points.push({
        panel: "accuracy",
        series: "training accuracy",
        ...at,
        value: e.accuracy,
        best_checkpoint: false,
      });
    } else if (e.type === "eval") {
      points.push({
        panel: "accuracy",
        series: "dev accuracy",
        ...at,
        value: e.dev_accuracy,
        best_checkpoint: i === bestIndex,
      });
    }
  });
  return points;
}

export interface CurvesSpecOptions {
  title: string;
  axis: CurveAxis;
  /** Width of each panel's plot area, in pixels. */
  width: number;
  height: number;
}

const SERIES = ["training loss", "training accuracy", "dev accuracy"];
const COLORS = ["#d62728", "#1f77b4", "#2ca02c"];

/** The Vega-Lite spec drawing `points`; the data is the named dataset "metrics". */
export function curvesSpec(points: readonly CurvePoint[], o: CurvesSpecOptions): Record<string, unknown> {
  const x = o.axis === "step" ? "step" : "elapsed_seconds";
  const xTitle = o.axis === "step" ? "step" : "training time (seconds)";
  const shown = points.filter((p) => (o.axis === "step" ? true : p.elapsed_seconds !== null));
  // The label goes where curves seldom are: loss falls (top right is free), accuracy rises.
  const emptyCorner = {
    loss: { y: 0, dy: 3, baseline: "top" },
    accuracy: { y: "height", dy: -3, baseline: "bottom" },
  };
  const panel = (name: CurvePoint["panel"], yTitle: string) => ({
    width: o.width,
    height: o.height,
    layer: [
      {
        transform: [{ filter: `datum.panel === '${name}'` }],
        mark: { type: "line", point: { filled: true, size: 36 }, strokeWidth: 1.5 },
        encoding: {
          x: { field: x, type: "quantitative", title: xTitle },
          y: { field: "value", type: "quantitative", title: yTitle, scale: { zero: false } },
          color: { field: "series", type: "nominal", scale: { domain: SERIES, range: COLORS }, title: null },
          tooltip: [
            { field: "series" },
            { field: "step" },
            { field: "value", format: ".4f" },
            { field: "elapsed_seconds", title: "seconds" },
            { field: "time" },
          ],
        },
      },
      {
        transform: [{ filter: "datum.best_checkpoint" }],
        mark: { type: "rule", strokeDash: [4, 3], color: "#555" },
        encoding: { x: { field: x, type: "quantitative" } },
      },
      {
        transform: [{ filter: "datum.best_checkpoint" }],
        mark: {
          type: "text",
          text: "best",
          align: "left",
          dx: 3,
          color: "#555",
          ...emptyCorner[name],
        },
        encoding: { x: { field: x, type: "quantitative" } },
      },
    ],
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: o.title,
    datasets: { metrics: shown },
    data: { name: "metrics" },
    vconcat: [panel("loss", "training loss"), panel("accuracy", "accuracy")],
    resolve: { scale: { x: "shared" } },
    config: { legend: { orient: "bottom" }, view: { stroke: "#ddd" } },
  };
}
