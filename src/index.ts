// The library: the tensor engine, the data layer, the models and training, importable as
// `spinn-ts` (the CLI is built on exactly these).
export * from "./data/index.js";
export { bracketed, drawTree } from "./data/tree-format.js";
export * from "./engine/index.js";
export { evaluate, type Predictions, predict } from "./inference/evaluate.js";
export { type ClassificationReport, classificationReport, formatReport } from "./inference/metrics.js";
export { CbowEncoder, LstmEncoder, type SentenceEncoder } from "./models/baselines.js";
export { ENCODERS, type EncoderKind, TASKS, type Task } from "./models/kinds.js";
export { defaultConfig, Model, type ModelConfig, stackSentenceBatches } from "./models/model.js";
export { type LoadedModel, loadModelDir, saveModelDir } from "./models/model-dir.js";
export { SpinnEncoder } from "./models/spinn.js";
export { StackMachine } from "./models/stack-machine.js";
export { batchFor, type Example, labelNames, readTaskData, type TaskData } from "./tasks/task.js";
export { type DivergedQuantity, DivergenceError } from "./training/divergence.js";
export {
  DEFAULT_LR,
  defaultTrainOptions,
  type OptimizerKind,
  type TrainOptions,
} from "./training/options.js";
export { type TrainHooks, type TrainResult, train } from "./training/trainer.js";
