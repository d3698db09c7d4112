// The library: the tensor engine, the data layer, the models and training, importable as
// `spinn-ts` (the CLI is built on exactly these).
export * from "./data/index.js";
export { bracketed, drawTree } from "./data/tree-format.js";
export * from "./engine/index.js";
export { evaluate, type Predictions, predict } from "./inference/evaluate.js";
export { type ClassificationReport, classificationReport, formatReport } from "./inference/metrics.js";
export {
  classify,
  type ListOpsPrediction,
  type PairInput,
  type PairPrediction,
  type ParsedText,
  parse,
  predictListOps,
  type RawInputOptions,
} from "./inference/raw-input.js";
export { CbowEncoder, LstmEncoder } from "./models/baselines.js";
export { stackSentenceBatches } from "./models/batch-layout.js";
export type {
  EncoderPass,
  FollowedTrees,
  PolicyTerms,
  SentenceEncoder,
  TransitionSource,
} from "./models/encoder.js";
export { ENCODERS, type EncoderKind, TASKS, type Task } from "./models/kinds.js";
export { defaultConfig, Model, type ModelConfig } from "./models/model.js";
export { type LoadedModel, loadModelDir, saveModelDir } from "./models/model-dir.js";
export { type ModelCard, pretrainedDir, pretrainedNames, readCard } from "./models/pretrained.js";
export { lstm, SpinnEncoder, treeLstm } from "./models/spinn.js";
export { StackMachine } from "./models/stack-machine.js";
export { batchFor, type Example, labelNames, readTaskData, type TaskData } from "./tasks/task.js";
export { type DivergedQuantity, DivergenceError } from "./training/divergence.js";
export {
  DEFAULT_LR,
  defaultTrainOptions,
  type OptimizerKind,
  RESUMABLE_OPTIONS,
  ResumeError,
  type TrainOptions,
} from "./training/options.js";
export { RunLockError } from "./training/run-lock.js";
export { type TrainHooks, type TrainResult, train } from "./training/trainer.js";
