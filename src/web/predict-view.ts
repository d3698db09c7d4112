// The predict view: pick a model (GET /v1/models), type a premise and hypothesis or a ListOps
// expression (the form follows the model's task), submit (Enter or the button), and see each
// model's label with a probability bar per class and the trees it composed along. With a second
// model chosen to compare, both answer and their trees of the same sentence stand side by side,
// the constituents they share highlighted.
import { getJson, postJson } from "./api.js";
import { treeSvg } from "./tree-svg.js";
import { parseBracketed, sharedSpans, type TreeNode } from "./trees.js";

export interface ModelInfo {
  name: string;
  task: "nli" | "listops";
  encoder: string;
  parses: boolean;
  labels: string[];
}

interface Prediction {
  label: string;
  probabilities: Record<string, number>;
  trees: Record<string, string | null>;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export async function startPredictView(): Promise<void> {
  const status = $("predict-status");
  let models: ModelInfo[];
  try {
    models = (await getJson<{ models: ModelInfo[] }>("/v1/models")).models;
  } catch (err) {
    showStatus(status, `No models to ask: ${(err as Error).message}`, true);
    $<HTMLButtonElement>("predict-button").disabled = true;
    return;
  }
  const select = $<HTMLSelectElement>("model");
  const compare = $<HTMLSelectElement>("compare-model");
  select.replaceChildren(...models.map((m) => new Option(`${m.name} (${m.task}, ${m.encoder})`, m.name)));
  const sync = () => syncForm(models, select.value, compare);
  select.addEventListener("change", sync);
  sync();
  $<HTMLFormElement>("predict-form").addEventListener("submit", (event) => {
    event.preventDefault();
    void submit(models, select.value, compare.value);
  });
}

/** Shows the fields of the chosen model's task; offers the other models of that task to compare. */
function syncForm(models: ModelInfo[], chosen: string, compare: HTMLSelectElement): void {
  const model = models.find((m) => m.name === chosen)!;
  $("nli-fields").hidden = model.task !== "nli";
  $("listops-fields").hidden = model.task !== "listops";
  const others = models.filter((m) => m.task === model.task && m.name !== model.name);
  const kept = compare.value;
  compare.replaceChildren(new Option("(none)", ""), ...others.map((m) => new Option(m.name, m.name)));
  compare.value = others.some((m) => m.name === kept) ? kept : "";
  $("compare-field").hidden = others.length === 0;
}

function showStatus(status: HTMLElement, text: string, error = false): void {
  status.textContent = text;
  status.classList.toggle("error", error);
}

function inputFor(model: ModelInfo): Record<string, string> {
  const value = (id: string) => $<HTMLInputElement>(id).value.trim();
  return model.task === "nli"
    ? { premise: value("premise"), hypothesis: value("hypothesis") }
    : { expression: value("expression") };
}

async function submit(models: ModelInfo[], chosen: string, compareWith: string): Promise<void> {
  const status = $("predict-status");
  const button = $<HTMLButtonElement>("predict-button");
  const asked = [chosen, compareWith].filter((n) => n !== "").map((n) => models.find((m) => m.name === n)!);
  const inputs = inputFor(asked[0]!);
  button.disabled = true;
  showStatus(status, "Asking the model…");
  try {
    const answers = await Promise.all(
      asked.map((m) => postJson<{ predictions: Prediction[] }>("/v1/predict", { model: m.name, inputs })),
    );
    const predictions = answers.map((a) => a.predictions[0]!);
    renderResults(asked, predictions);
    showStatus(
      status,
      asked.length > 1 ? `${asked[0]!.name} and ${asked[1]!.name} answered.` : `${asked[0]!.name} answered.`,
    );
  } catch (err) {
    showStatus(status, (err as Error).message, true);
  } finally {
    button.disabled = false;
  }
}

function renderResults(models: ModelInfo[], predictions: Prediction[]): void {
  const trees = predictions.map((p) => parseTrees(p.trees));
  const sides = Object.keys(predictions[0]!.trees);
  const cards = models.map((model, i) => {
    const other = trees[1 - i];
    const shared = (side: string) => {
      const mine = trees[i]![side];
      const theirs = other?.[side];
      return mine && theirs ? sharedSpans(mine, theirs) : new Set<string>();
    };
    return resultCard(
      model,
      predictions[i]!,
      sides.map((side) => ({ side, tree: trees[i]![side] ?? null, shared: shared(side) })),
    );
  });
  const grid = document.createElement("div");
  grid.className = "results";
  grid.append(...cards);
  const parts: HTMLElement[] = [grid];
  if (models.length > 1) {
    const legend = document.createElement("p");
    legend.className = "legend";
    legend.innerHTML = '<span class="swatch"></span> constituents both models\' trees have';
    parts.unshift(legend);
  }
  $("predict-result").replaceChildren(...parts);
}

function parseTrees(trees: Record<string, string | null>): Record<string, TreeNode | null> {
  return Object.fromEntries(
    Object.entries(trees).map(([side, text]) => [side, text === null ? null : parseBracketed(text)]),
  );
}

function resultCard(
  model: ModelInfo,
  p: Prediction,
  trees: { side: string; tree: TreeNode | null; shared: Set<string> }[],
): HTMLElement {
  const card = document.createElement("article");
  card.className = "result";
  card.dataset.model = model.name;
  const title = document.createElement("h3");
  title.textContent = model.name;
  const label = document.createElement("p");
  label.className = "label";
  label.dataset.label = p.label;
  label.textContent = `${model.task === "nli" ? "" : "value "}${p.label}`;
  card.append(title, label, probabilityBars(model.labels, p));
  for (const { side, tree, shared } of trees) {
    const block = document.createElement("div");
    block.className = "tree-block";
    block.dataset.side = side;
    const heading = document.createElement("h4");
    heading.textContent =
      tree === null ? `${side}: no tree (this model reads words in order)` : `${side} tree`;
    block.append(heading);
    if (tree !== null) {
      const scroll = document.createElement("div");
      scroll.className = "tree-scroll";
      scroll.append(treeSvg(tree, shared, `${model.name}'s ${side} tree`));
      block.append(scroll);
    }
    card.append(block);
  }
  return card;
}

function probabilityBars(labels: string[], p: Prediction): HTMLElement {
  const bars = document.createElement("div");
  bars.className = "bars";
  for (const name of labels) {
    const probability = p.probabilities[name] ?? 0;
    const row = [
      document.createElement("span"),
      document.createElement("span"),
      document.createElement("span"),
    ];
    row[0]!.textContent = name;
    row[1]!.className = "bar";
    row[1]!.setAttribute("role", "meter");
    row[1]!.setAttribute("aria-label", `probability of ${name}`);
    row[1]!.setAttribute("aria-valuenow", probability.toFixed(4));
    row[1]!.setAttribute("aria-valuemin", "0");
    row[1]!.setAttribute("aria-valuemax", "1");
    const fill = document.createElement("span");
    fill.style.width = `${(probability * 100).toFixed(1)}%`;
    row[1]!.append(fill);
    row[2]!.className = "value";
    row[2]!.textContent = `${(probability * 100).toFixed(1)}%`;
    const wrap = document.createElement("div");
    wrap.style.display = "contents";
    if (name === p.label) wrap.className = "predicted";
    wrap.append(...row);
    bars.append(wrap);
  }
  return bars;
}
