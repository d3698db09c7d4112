// The messages between the server (main thread) and its model worker (model-worker.ts). Items
// cross as plain data (structured clone); each batch carries the slices of the requests it
// joined ("groups"), so that a bad item fails only its own request.
import type { InputLimits } from "../inference/input-limits.js";
import type { Task } from "../models/kinds.js";

/** What the worker runs: classify pairs, evaluate ListOps expressions, or parse sentences. */
export type JobKind = "classify" | "listops" | "parse";

/** What the server tells about a loaded model (GET /v1/models). */
export interface ModelInfo {
  name: string;
  task: Task;
  encoder: string;
  /** The model predicts its own trees, so it parses raw sentences. */
  parses: boolean;
  labels: string[];
  /** Sizes from the model's config, keys in snake_case. */
  sizes: Record<string, number>;
  /** The model card (snake_case keys), when the model has one. */
  card: Record<string, unknown> | null;
}

export interface ModelSource {
  name: string;
  dir: string;
}

export type ToWorker =
  | { type: "load"; models: ModelSource[]; device: string }
  | {
      type: "run";
      id: number;
      model: string;
      job: JobKind;
      items: unknown[];
      /** Sizes of the request slices the items come from, in order. */
      groups: number[];
      limits: InputLimits;
    };

/** One slice's outcome: its results, or the first bad item (index within the slice). */
export type GroupOutcome =
  | { ok: true; results: unknown[] }
  | { ok: false; index: number; field: string | undefined; detail: string };

export type FromWorker =
  | { type: "loaded"; models: Omit<ModelInfo, "card">[] }
  | { type: "load-failed"; message: string }
  | { type: "done"; id: number; outcomes: GroupOutcome[]; seconds: number }
  | { type: "failed"; id: number; message: string };
