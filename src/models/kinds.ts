// Names of the model families and tasks, kept apart from the models themselves so that code
// that only needs the names (CLI flag checks) does not load the tensor engine.
export const ENCODERS = ["spinn-pi-nt", "spinn-pi", "spinn", "lstm", "bilstm", "cbow"] as const;
export type EncoderKind = (typeof ENCODERS)[number];
export const TASKS = ["nli", "listops"] as const;
export type Task = (typeof TASKS)[number];
/** Where a SPINN's trees come from: the data's parses, or a fixed shape (controls for learned trees). */
export const TRANSITION_MODES = ["gold", "left", "right", "balanced"] as const;
export type TransitionMode = (typeof TRANSITION_MODES)[number];

/**
 * Whether an encoder needs every sentence's parse: SPINN-PI(-NT) always compose along given trees;
 * full SPINN learns from them in training (teacher forcing) and parses by itself afterwards.
 */
export function needsGivenTrees(encoder: EncoderKind, training: boolean): boolean {
  return encoder === "spinn-pi" || encoder === "spinn-pi-nt" || (encoder === "spinn" && training);
}
