// The data layer: everything between files on disk and batches of token ids plus transitions.
// Pure TypeScript (no tensor engine); embeddings are Float32Arrays.

export * from "./batching.js";
export * from "./dataset.js";
export * from "./embeddings.js";
export * from "./errors.js";
export * from "./lines.js";
export * from "./listops.js";
export * from "./listops-generate.js";
export * from "./nli.js";
export * from "./rng.js";
export * from "./stats.js";
export * from "./tokenizer.js";
export * from "./transitions.js";
export * from "./vocabulary.js";
