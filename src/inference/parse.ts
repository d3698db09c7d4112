// Parsing raw sentences with a model that predicts its own transitions (full SPINN, RL-SPINN):
// whatever decides the transitions (the encoder's tracker, or a separate parser) runs alone,
// following its most probable valid actions, and the trees it followed are the parses.
import { encodeSentences } from "../data/batching.js";
import type { ParsedSentence } from "../data/transitions.js";
import type { Vocabulary } from "../data/vocabulary.js";
import { noGrad, scope } from "../engine/index.js";
import { predictsTransitions } from "../models/kinds.js";
import type { Model } from "../models/model.js";

export class ParseError extends Error {
  override name = "ParseError";
}

/** The model's tree (transitions) for each sentence, in input order. */
export function parseSentences(
  model: Model,
  vocab: Vocabulary,
  sentences: readonly ParsedSentence[],
  batchSize = 256,
): Uint8Array[] {
  if (!predictsTransitions(model.config.encoder)) {
    throw new ParseError(
      `this model (${model.config.encoder}) composes along given trees and does not parse: ` +
        "train one with --model spinn or --model rl-spinn",
    );
  }
  const trees: Uint8Array[] = [];
  noGrad(() => {
    for (let start = 0; start < sentences.length; start += batchSize) {
      const part = sentences.slice(start, start + batchSize).map((s) => ({ ...s, transitions: null }));
      // The batch's own tensors (ids, lengths) are freed with the pass, not left to the collector.
      const { transitions, steps } = scope(() => {
        const batch = encodeSentences(part, vocab);
        return model.policyPass(batch, false, "greedy").trees!;
      });
      part.forEach((s, i) => {
        trees.push(transitions.slice(i * steps, i * steps + 2 * s.tokens.length - 1));
      });
    }
  });
  return trees;
}
