// The runs view: the runs of the server's --runs directory (GET /v1/runs), and for the one
// picked its curves (GET /v1/runs/NAME/metrics) drawn by vega-embed from the same spec as
// `spinn plot` (curves.ts), against the step or the training time. It asks again every few
// seconds and redraws when the run has written new lines, so a run in training updates live.
// The chart's data, as the chart holds it, is on the chart element (data-points), for tests.
import type { RunSummary } from "../serve/runs.js";
import type { MetricsEntry } from "../training/run-metrics.js";
import { getJson } from "./api.js";
import { type CurveAxis, curvePoints, curvesSpec } from "./curves.js";

interface VegaView {
  data(name: string): object[];
  finalize(): void;
}
declare const vegaEmbed: (el: HTMLElement, spec: object, options: object) => Promise<{ view: VegaView }>;

const POLL_MS = 2000;
/** Pixels the y axis and its title take beside a panel. */
const AXES_ROOM = 80;
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export function startRunsView(): void {
  const state = { shown: "", view: null as VegaView | null };
  const runSelect = $<HTMLSelectElement>("run");
  const axis = $<HTMLSelectElement>("axis");
  const refresh = async (force: boolean) => {
    try {
      const runs = await listRuns(runSelect);
      const run = runs.find((r) => r.name === runSelect.value);
      if (run) await showRun(run, axis.value as CurveAxis, state, force);
    } catch (err) {
      setStatus((err as Error).message, true);
    }
  };
  runSelect.addEventListener("change", () => void refresh(true));
  axis.addEventListener("change", () => void refresh(true));
  void refresh(true);
  let resized: ReturnType<typeof setTimeout> | undefined;
  window.addEventListener("resize", () => {
    clearTimeout(resized);
    resized = setTimeout(() => void refresh(true), 200);
  });
  setInterval(() => {
    if (!$("runs").hidden) void refresh(false);
  }, POLL_MS);
}

function setStatus(text: string, error = false): void {
  const status = $("runs-status");
  status.textContent = text;
  status.classList.toggle("error", error);
}

/** Fills the run picker (keeping the choice) and returns the runs. */
async function listRuns(select: HTMLSelectElement): Promise<RunSummary[]> {
  const { runs } = await getJson<{ runs: RunSummary[] }>("/v1/runs");
  const names = runs.map((r) => r.name);
  const current = [...select.options].map((o) => o.value);
  if (names.join("\n") !== current.join("\n")) {
    const kept = select.value;
    select.replaceChildren(...names.map((n) => new Option(n, n)));
    if (names.includes(kept)) select.value = kept;
  }
  if (runs.length === 0) setStatus("No runs in the runs directory yet.");
  return runs;
}

async function showRun(
  run: RunSummary,
  axis: CurveAxis,
  state: { shown: string; view: VegaView | null },
  force: boolean,
): Promise<void> {
  const url = `/v1/runs/${encodeURIComponent(run.name)}/metrics`;
  const { metrics } = await getJson<{ metrics: MetricsEntry[] }>(url);
  renderSummary(run);
  // Redraw only when something changed: a new line, another run or axis.
  const key = `${run.name}|${axis}|${metrics.length}`;
  if (!force && key === state.shown) return;
  state.shown = key;
  const points = curvePoints(metrics);
  const shown = axis === "time" ? points.filter((p) => p.elapsed_seconds !== null) : points;
  const chart = $("chart");
  if (shown.length === 0) {
    state.view?.finalize();
    state.view = null;
    chart.replaceChildren();
    chart.dataset.points = "[]";
    setStatus(
      axis === "time" && points.length > 0
        ? "This run's metrics have no timestamps: plot against the step."
        : "No metrics yet.",
    );
    return;
  }
  // Vega-Lite's "container" width sizes the plot area, and the axes would stick out beside it;
  // the panels are given the container's width less room for the axes instead.
  const width = Math.max(160, chart.clientWidth - AXES_ROOM);
  const spec = curvesSpec(shown, { title: run.name, axis, width, height: 220 });
  const result = await vegaEmbed(chart, spec, { actions: false, renderer: "svg" });
  state.view?.finalize();
  state.view = result.view;
  chart.dataset.points = JSON.stringify(result.view.data("metrics"));
  chart.dataset.lines = String(metrics.length);
  setStatus(
    `${metrics.length} metrics lines${run.training ? ", training now (updates every few seconds)" : ""}.`,
  );
}

function renderSummary(run: RunSummary): void {
  const pct = (x: number | null) => (x === null ? "–" : `${(x * 100).toFixed(2)}%`);
  const items: [string, string][] = [
    ["task", run.task ?? "–"],
    ["model", run.model ?? "–"],
    ["last step", run.last_step === null ? "–" : String(run.last_step)],
    ["best dev accuracy", pct(run.best_dev_accuracy)],
    ["best checkpoint", run.best_step === null ? "–" : `step ${run.best_step}`],
    ["state", run.error ?? (run.training ? "training" : "stopped")],
  ];
  $("run-summary").replaceChildren(
    ...items.map(([term, value]) => {
      const div = document.createElement("div");
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      dt.textContent = term;
      dd.textContent = value;
      div.append(dt, dd);
      return div;
    }),
  );
}
