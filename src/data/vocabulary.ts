// Word ↔ id mapping built from training data and saved with a model, so that ids never shift
// between training, evaluation and serving.
//
// Ids: 0 is <pad> (padding in id matrices), 1 is <unk> (any word not in the vocabulary), then the
// words in order of decreasing training count, ties broken by code-unit order, so the same data
// always gives the same ids. A lowercasing vocabulary lowercases words on lookup as well as when
// it is built, so callers pass tokens as they appear in the data.

import { createHash } from "node:crypto";
import { writeFileAtomic } from "../util/atomic-write.js";
import { Fields, readJsonFile } from "../util/checked-json.js";

export const PAD = "<pad>";
export const UNK = "<unk>";
export const PAD_ID = 0;
export const UNK_ID = 1;

export interface VocabularyOptions {
  /** Keep words seen at least this many times (default 1). */
  minCount?: number;
  /** Lowercase words when building and looking up (default false). */
  lowercase?: boolean;
  /** Keep at most this many words besides the special tokens (most frequent first). */
  maxWords?: number;
}

/** The saved form (a JSON file beside the model weights). */
export interface VocabularyJSON {
  format: "spinn-vocabulary";
  version: 1;
  lowercase: boolean;
  /** All tokens in id order, starting with "<pad>", "<unk>". */
  words: string[];
  /** Training counts in id order (0 for the special tokens). */
  counts: number[];
}

export class Vocabulary {
  readonly lowercase: boolean;
  private readonly words: string[];
  private readonly counts: number[];
  private readonly ids: Map<string, number>;

  private constructor(words: string[], counts: number[], lowercase: boolean) {
    this.words = words;
    this.counts = counts;
    this.lowercase = lowercase;
    this.ids = new Map(words.map((w, i) => [w, i]));
  }

  /** Builds a vocabulary from tokenized sentences (e.g. every premise and hypothesis). */
  static build(sentences: Iterable<readonly string[]>, options: VocabularyOptions = {}): Vocabulary {
    const { minCount = 1, lowercase = false, maxWords = Number.POSITIVE_INFINITY } = options;
    if (!Number.isInteger(minCount) || minCount < 1)
      throw new RangeError(`minCount must be a positive integer, got ${minCount}`);
    const counts = new Map<string, number>();
    for (const tokens of sentences) {
      for (const token of tokens) {
        const w = lowercase ? token.toLowerCase() : token;
        counts.set(w, (counts.get(w) ?? 0) + 1);
      }
    }
    // A data set may contain the special tokens literally; they keep their fixed ids.
    counts.delete(PAD);
    const unkCount = counts.get(UNK) ?? 0;
    counts.delete(UNK);
    const entries = [...counts].filter(([, c]) => c >= minCount);
    entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const kept = entries.slice(0, maxWords);
    return new Vocabulary(
      [PAD, UNK, ...kept.map(([w]) => w)],
      [0, unkCount, ...kept.map(([, c]) => c)],
      lowercase,
    );
  }

  /**
   * Restores a saved vocabulary read from `file`; anything that is not one (the wrong shape,
   * duplicate words, counts that do not fit) is a CheckpointError "file: field: problem".
   */
  static fromJSON(json: unknown, file = "vocabulary"): Vocabulary {
    const f: Fields = new Fields(json, file);
    f.literal("format", "spinn-vocabulary");
    f.literal("version", 1);
    const lowercase = f.boolean("lowercase");
    const words = f.object.words;
    if (!Array.isArray(words) || !words.every((w) => typeof w === "string"))
      f.fail("words", "expected an array of strings", words);
    if (words[PAD_ID] !== PAD || words[UNK_ID] !== UNK)
      f.fail("words", `expected ${PAD}, ${UNK} first`, words.slice(0, 2));
    const seen = new Set<string>();
    for (const w of words) {
      if (seen.has(w)) f.fail("words", "expected each word once, found twice", w);
      seen.add(w);
    }
    const counts = f.has("counts") ? f.object.counts : words.map(() => 0);
    if (
      !Array.isArray(counts) ||
      counts.length !== words.length ||
      !counts.every((c) => Number.isInteger(c) && c >= 0)
    ) {
      f.fail("counts", `expected ${words.length} non-negative integers, one per word`, counts);
    }
    return new Vocabulary([...words], [...(counts as number[])], lowercase);
  }

  /** Reads a saved vocabulary (vocab.json); a missing, unreadable or invalid file is a CheckpointError naming it. */
  static async load(path: string): Promise<Vocabulary> {
    return Vocabulary.fromJSON(readJsonFile(path), path);
  }

  /** Number of ids, special tokens included. */
  get size(): number {
    return this.words.length;
  }

  /** The form a word is stored in (lowercased for a lowercasing vocabulary). */
  normalize(word: string): string {
    return this.lowercase ? word.toLowerCase() : word;
  }

  /** The id of a word, or UNK_ID when it is not in the vocabulary. */
  idOf(word: string): number {
    return this.ids.get(this.normalize(word)) ?? UNK_ID;
  }

  /** The id of a word, or undefined when it is not in the vocabulary (no UNK fallback). */
  lookup(word: string): number | undefined {
    return this.ids.get(this.normalize(word));
  }

  has(word: string): boolean {
    return this.ids.has(this.normalize(word));
  }

  /** The word for an id; throws for an id out of range. */
  wordOf(id: number): string {
    const w = this.words[id];
    if (w === undefined) throw new RangeError(`no word with id ${id} (vocabulary size ${this.size})`);
    return w;
  }

  /** Training count of the word with this id (0 for special tokens and loaded-without-counts). */
  countOf(id: number): number {
    return this.counts[id] ?? 0;
  }

  /** Token ids of a sentence. */
  encode(tokens: readonly string[]): Int32Array {
    const out = new Int32Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) out[i] = this.idOf(tokens[i]!);
    return out;
  }

  /** Words in id order (a copy). */
  toArray(): string[] {
    return [...this.words];
  }

  toJSON(): VocabularyJSON {
    return {
      format: "spinn-vocabulary",
      version: 1,
      lowercase: this.lowercase,
      words: [...this.words],
      counts: [...this.counts],
    };
  }

  /** Writes the vocabulary as JSON, atomically (temp file + rename). */
  async save(path: string): Promise<void> {
    writeFileAtomic(path, `${JSON.stringify(this.toJSON())}\n`);
  }

  /**
   * A hex SHA-256 over what decides ids (words in order and the lowercasing flag, not counts):
   * two vocabularies with the same hash give the same ids, so caches keyed by it stay valid.
   */
  hash(): string {
    const h = createHash("sha256");
    h.update(this.lowercase ? "lowercase\n" : "cased\n");
    h.update(JSON.stringify(this.words));
    return h.digest("hex");
  }
}
