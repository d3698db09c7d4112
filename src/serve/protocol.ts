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
  /**
   * Its predictions run in a rolling batch (continuous batching: items join and leave the
   * running batch at any transition step; src/inference/rolling-batch.ts) instead of batches
   * gathered in the server's queue.
   */
  rolling: boolean;
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
  | { type: "load"; models: ModelSource[]; device: string; rolling: boolean }
  | {
      type: "run";
      id: number;
      model: string;
      job: JobKind;
      /** Into the model's rolling batch (ModelInfo.rolling), answered once its items are done. */
      rolling: boolean;
      items: unknown[];
      /** Sizes of the request slices the items come from, in order. */
      groups: number[];
      limits: InputLimits;
    };

/** One slice's outcome: its results, or the first bad item (index within the slice). */
export type GroupOutcome =
  | { ok: true; results: unknown[] }
  | { ok: false; index: number; field: string | undefined; detail: string };

/** A job's answer: its slices' outcomes. */
export interface JobDone {
  id: number;
  outcomes: GroupOutcome[];
  seconds: number;
  /** The items the batch held: this job's, or a rolling batch's mean over the job's steps. */
  batch: number;
}

export type FromWorker =
  | { type: "loaded"; models: Omit<ModelInfo, "card">[] }
  | { type: "load-failed"; message: string }
  | ({ type: "done"; busy: number } & JobDone)
  /** The rolling jobs a step finished, in one message (one postMessage per job cost ~8% of a worker's time). */
  | { type: "done-many"; jobs: JobDone[]; busy: number }
  | { type: "failed"; id: number; message: string; busy: number };
// `busy`: seconds this worker has spent running models since it started.
