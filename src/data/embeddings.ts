// Pretrained word vectors in the GloVe / word2vec text format, reduced to one vocabulary.
//
// The file is streamed (GloVe 840B is 5 GB): only rows whose word is in the vocabulary have their
// numbers parsed and kept; every other row is checked for its field count only (parsing all
// numbers of a 5 GB file would dominate the load). A row with the wrong number of values, or a
// kept row with a value that is not a finite number, is an error naming file:line (or, with
// `lenient`, is skipped and counted). A word2vec header line ("<rows> <dim>") is recognised and
// skipped. When several rows normalise to the same vocabulary word (a cased file with a
// lowercasing vocabulary), the first one wins: these files are in frequency order.
//
// Words without a vector (and <unk>) get seeded normal random rows with the standard deviation of
// the loaded values (so they sit at the same scale); <pad> stays zero. Special tokens in the file
// are ignored.
//
// With `cacheDir`, the vectors found are cached in a binary file there, keyed by source file name
// and vocabulary hash. A cache that no longer matches (the source's size or mtime, the vocabulary
// hash, the dimension, an older cache version) is rebuilt; one that is damaged (truncated, a
// garbled header, ids out of range, a value that is not a finite float32) is a DataError naming
// the cache file, checked as strictly as the text is, so nothing non-finite enters a model
// through it. Random rows are not cached: they are redrawn from the seed, so a cache hit equals a
// fresh load for every seed.

import { readFile, stat } from "node:fs/promises";
import { endianness } from "node:os";
import { basename, join, resolve } from "node:path";
import { writeFileAtomic } from "../util/atomic-write.js";
import { Fields } from "../util/checked-json.js";
import { DataError, ErrorSink, type SkippedLines } from "./errors.js";
import { asDataError, readLineBatches } from "./lines.js";
import { Rng } from "./rng.js";
import { PAD_ID, UNK_ID, type Vocabulary } from "./vocabulary.js";

export interface EmbeddingsOptions {
  /** Seed for the random rows of words without a vector (default 0). */
  seed?: number;
  /** Standard deviation of random rows (default: that of the loaded values; 1/√dim if none). */
  initStd?: number;
  /** Expected dimension; rows of another dimension are errors (default: from the file). */
  dim?: number;
  /** Directory for the binary cache (created if needed); no caching when absent. */
  cacheDir?: string;
  /** Skip bad rows (and count them) instead of throwing. Default false. */
  lenient?: boolean;
  maxKeptErrors?: number;
}

/** How the vectors were obtained: read from text (no cache), from the cache, or read and cached. */
export type CacheStatus = "none" | "hit" | "miss" | "stale";

export interface Embeddings {
  dim: number;
  /** vocab.size × dim, row-major; row PAD_ID is zeros. */
  matrix: Float32Array;
  /** Vocabulary words (special tokens excluded) that got a vector from the file. */
  found: number;
  /** Vocabulary words without a vector, most frequent first (by training count, then id). */
  missing: string[];
  /**
   * Fraction of vocabulary word types with a vector, and (when the vocabulary has training
   * counts) of word tokens in the training data.
   */
  coverage: { types: number; tokens?: number };
  /** Vector rows in the file (header excluded). */
  rows: number;
  /** Rows skipped as invalid (lenient mode). */
  invalid: SkippedLines;
  cache: CacheStatus;
  cacheFile?: string;
}

/** What the text file gave: the vectors of the vocabulary words found, by id. */
interface FoundVectors {
  dim: number;
  ids: Int32Array;
  vectors: Float32Array;
  rows: number;
  invalid: SkippedLines;
}

export async function loadEmbeddings(
  file: string,
  vocab: Vocabulary,
  options: EmbeddingsOptions = {},
): Promise<Embeddings> {
  if (options.dim !== undefined && (!Number.isInteger(options.dim) || options.dim < 1)) {
    throw new RangeError(`dim must be a positive integer, got ${options.dim}`);
  }
  let found: FoundVectors;
  let cache: CacheStatus = "none";
  let cacheFile: string | undefined;
  if (options.cacheDir !== undefined && endianness() === "LE") {
    const source = await sourceStamp(file);
    cacheFile = join(options.cacheDir, `${basename(file)}.${vocab.hash().slice(0, 16)}.spinnemb`);
    const cached = await readCache(cacheFile, file, source, vocab, options);
    if (cached !== "absent" && cached !== "stale") {
      found = cached;
      cache = "hit";
    } else {
      found = await readText(file, vocab, options);
      await writeCache(cacheFile, source, vocab, found);
      cache = cached === "absent" ? "miss" : "stale";
    }
  } else {
    found = await readText(file, vocab, options);
  }
  return assemble(found, vocab, options, cache, cacheFile);
}

// ---------------------------------------------------------------------------------------------
// Reading the text format

async function readText(file: string, vocab: Vocabulary, options: EmbeddingsOptions): Promise<FoundVectors> {
  const sink = new ErrorSink(options.lenient ?? false, options.maxKeptErrors);
  let dim = options.dim ?? 0;
  const have = new Uint8Array(vocab.size);
  const ids: number[] = [];
  const chunks: Float32Array[] = [];
  let rows = 0;
  let first = true;
  for await (const { lines, firstLine } of readLineBatches(file)) {
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i]!;
      const last = line.charCodeAt(line.length - 1);
      if (last === 32 || last === 9 || last === 13) line = line.trimEnd(); // e.g. fastText's trailing space
      const lineNo = firstLine + i;
      if (line === "") continue;
      if (first) {
        first = false;
        const header = /^(\d+)\s+(\d+)$/.exec(line);
        if (header) {
          const headerDim = Number(header[2]);
          if (dim !== 0 && headerDim !== dim) {
            throw new DataError(
              file,
              lineNo,
              undefined,
              `header says dimension ${headerDim}, expected ${dim}`,
            );
          }
          dim = headerDim;
          continue;
        }
      }
      rows++;
      const space = line.indexOf(" ");
      if (space <= 0) {
        sink.report(
          new DataError(file, lineNo, undefined, `expected a word followed by ${dim || "its"} numbers`),
        );
        continue;
      }
      const word = line.slice(0, space);
      if (dim === 0) dim = countFields(line, space);
      const id = vocab.lookup(word);
      if (id === undefined || id === PAD_ID || id === UNK_ID || have[id] === 1) {
        const n = countFields(line, space);
        if (n !== dim) sink.report(wrongDimension(file, lineNo, word, dim, n));
        continue;
      }
      const fields = line.slice(space + 1).split(" ");
      if (fields.length !== dim) {
        sink.report(wrongDimension(file, lineNo, word, dim, fields.length));
        continue;
      }
      const vector = new Float32Array(dim);
      let bad = -1;
      for (let k = 0; k < dim; k++) {
        const f = fields[k]!;
        const v = +f;
        vector[k] = v;
        // A finite double beyond float32's range (e.g. 1e39) is stored as Infinity: the same
        // poison for training as a literal "inf", so it is an error at its line too.
        if (f === "" || !Number.isFinite(vector[k]!)) {
          bad = k;
          break;
        }
      }
      if (bad >= 0) {
        sink.report(badValue(file, lineNo, word, bad, fields[bad]!));
        continue;
      }
      have[id] = 1;
      ids.push(id);
      chunks.push(vector);
    }
  }
  if (dim === 0) throw new DataError(file, 0, undefined, "no vectors in the file");
  const vectors = new Float32Array(ids.length * dim);
  chunks.forEach((v, k) => {
    vectors.set(v, k * dim);
  });
  return { dim, ids: Int32Array.from(ids), vectors, rows, invalid: sink.skipped };
}

function badValue(file: string, line: number, word: string, k: number, field: string): DataError {
  const v = +field;
  const problem =
    field !== "" && Number.isFinite(v)
      ? "is too large for float32 (at most ±3.4028235e38)"
      : "is not a number";
  return new DataError(
    file,
    line,
    undefined,
    `value ${k + 1} of ${JSON.stringify(word)} ${problem}: ${JSON.stringify(field)}`,
  );
}

/** Number of space-separated values after the word (the line has no trailing whitespace). */
function countFields(line: string, space: number): number {
  // indexOf is native and about 3x faster than a charCodeAt loop; this runs on every row.
  let n = 1;
  for (let i = line.indexOf(" ", space + 1); i >= 0; i = line.indexOf(" ", i + 1)) n++;
  return n;
}

function wrongDimension(file: string, line: number, word: string, dim: number, n: number): DataError {
  return new DataError(
    file,
    line,
    undefined,
    `expected ${dim} numbers after the word ${JSON.stringify(word)}, found ${n}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Building the matrix

function assemble(
  found: FoundVectors,
  vocab: Vocabulary,
  options: EmbeddingsOptions,
  cache: CacheStatus,
  cacheFile: string | undefined,
): Embeddings {
  const { dim, ids, vectors } = found;
  const matrix = new Float32Array(vocab.size * dim);
  const have = new Uint8Array(vocab.size);
  for (let k = 0; k < ids.length; k++) {
    matrix.set(vectors.subarray(k * dim, (k + 1) * dim), ids[k]! * dim);
    have[ids[k]!] = 1;
  }
  const std = options.initStd ?? (ids.length > 0 ? stdOf(vectors) : 1 / Math.sqrt(dim));
  const rng = new Rng(options.seed ?? 0);
  const missingIds: number[] = [];
  for (let id = 0; id < vocab.size; id++) {
    if (id === PAD_ID || have[id] === 1) continue;
    if (id !== UNK_ID) missingIds.push(id);
    for (let k = 0; k < dim; k++) matrix[id * dim + k] = rng.normal(0, std);
  }
  missingIds.sort((a, b) => vocab.countOf(b) - vocab.countOf(a) || a - b);

  const words = vocab.size - 2;
  const coverage: Embeddings["coverage"] = { types: words > 0 ? ids.length / words : 0 };
  let total = 0;
  let covered = 0;
  for (let id = 2; id < vocab.size; id++) {
    total += vocab.countOf(id);
    if (have[id] === 1) covered += vocab.countOf(id);
  }
  if (total > 0) coverage.tokens = covered / total;

  const result: Embeddings = {
    dim,
    matrix,
    found: ids.length,
    missing: missingIds.map((id) => vocab.wordOf(id)),
    coverage,
    rows: found.rows,
    invalid: found.invalid,
    cache,
  };
  if (cacheFile !== undefined) result.cacheFile = cacheFile;
  return result;
}

function stdOf(values: Float32Array): number {
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i]!;
    sumSq += values[i]! * values[i]!;
  }
  const mean = sum / values.length;
  return Math.sqrt(Math.max(sumSq / values.length - mean * mean, 0)) || 1 / Math.sqrt(values.length);
}

// ---------------------------------------------------------------------------------------------
// Binary cache: "SPINNEMB", uint32 version, uint32 header length, header JSON, padding to a
// multiple of 4, int32 ids[found], float32 vectors[found × dim]; little-endian.

const MAGIC = "SPINNEMB";
// Version 2: version 1 caches were written before values beyond float32's range were refused,
// and may hold infinities; they are rebuilt from the text.
const CACHE_VERSION = 2;

interface SourceStamp {
  path: string;
  size: number;
  mtimeMs: number;
}

interface CacheHeader {
  source: SourceStamp;
  vocabHash: string;
  dim: number;
  found: number;
  rows: number;
  skipped: { count: number; errors: { line: number; detail: string }[] };
}

async function sourceStamp(file: string): Promise<SourceStamp> {
  try {
    const s = await stat(file);
    if (!s.isFile()) throw Object.assign(new Error("not a file"), { code: "EISDIR" });
    return { path: resolve(file), size: s.size, mtimeMs: s.mtimeMs };
  } catch (err) {
    throw asDataError(file, err);
  }
}

async function readCache(
  cacheFile: string,
  file: string,
  source: SourceStamp,
  vocab: Vocabulary,
  options: EmbeddingsOptions,
): Promise<FoundVectors | "absent" | "stale"> {
  let buf: Buffer;
  try {
    buf = await readFile(cacheFile);
  } catch {
    return "absent";
  }
  const header = readCacheHeader(buf, cacheFile);
  if (header === "stale") return "stale";
  const fresh =
    header.source.path === source.path &&
    header.source.size === source.size &&
    header.source.mtimeMs === source.mtimeMs &&
    header.vocabHash === vocab.hash() &&
    (options.dim === undefined || header.dim === options.dim) &&
    // A cache made leniently from a file with bad rows must not let a strict load pass.
    (options.lenient === true || header.skipped.count === 0);
  if (!fresh) return "stale";
  const { ids, vectors } = readCacheVectors(buf, cacheFile, header, vocab);
  const errors = header.skipped.errors.map((e) => new DataError(file, e.line, undefined, e.detail));
  return {
    dim: header.dim,
    ids,
    vectors,
    rows: header.rows,
    invalid: { count: header.skipped.count, errors },
  };
}

/** A damaged cache: one line naming it, the problem and the remedy. */
function damagedCache(cacheFile: string, problem: string): DataError {
  return new DataError(
    cacheFile,
    0,
    undefined,
    `${problem} (a damaged embeddings cache: delete it to rebuild it)`,
  );
}

/** The cache's header, checked field by field; "stale" for another cache version. */
function readCacheHeader(buf: Buffer, cacheFile: string): (CacheHeader & { end: number }) | "stale" {
  if (buf.length < 16 || buf.toString("latin1", 0, 8) !== MAGIC)
    throw damagedCache(cacheFile, "not a spinn embeddings cache (no SPINNEMB header)");
  if (buf.readUInt32LE(8) !== CACHE_VERSION) return "stale";
  const headerLength = buf.readUInt32LE(12);
  if (16 + headerLength > buf.length)
    throw damagedCache(
      cacheFile,
      `truncated: ${buf.length} bytes, the header alone says ${16 + headerLength}`,
    );
  let json: unknown;
  try {
    json = JSON.parse(buf.toString("utf8", 16, 16 + headerLength));
  } catch (err) {
    throw damagedCache(cacheFile, `header is not valid JSON (${(err as Error).message})`);
  }
  try {
    const f = new Fields(json, "header");
    const src = f.nested("source");
    src.string("path");
    src.int("size");
    src.number("mtimeMs");
    f.string("vocabHash");
    f.int("dim", 1);
    f.int("found");
    f.int("rows");
    const skipped: Fields = f.nested("skipped");
    skipped.int("count");
    const errors = skipped.object.errors;
    if (!Array.isArray(errors)) skipped.fail("errors", "expected an array", errors);
    errors.forEach((entry: unknown, k: number) => {
      const e = new Fields(entry, "header", `skipped.errors[${k}].`);
      e.int("line");
      e.string("detail");
    });
  } catch (err) {
    // Fields names the file as "header": the message reads "header: dim: expected ...".
    throw damagedCache(cacheFile, (err as Error).message);
  }
  return { ...(json as CacheHeader), end: 16 + headerLength };
}

/** The ids and vectors after the header: the right length, ids in range and once, values finite. */
function readCacheVectors(
  buf: Buffer,
  cacheFile: string,
  header: CacheHeader & { end: number },
  vocab: Vocabulary,
): { ids: Int32Array; vectors: Float32Array } {
  const { found, dim } = header;
  const idsOffset = align4(header.end);
  const vectorsOffset = idsOffset + 4 * found;
  const expected = vectorsOffset + 4 * found * dim;
  if (buf.length !== expected)
    throw damagedCache(cacheFile, `${buf.length} bytes, expected ${expected} for ${found} vectors of ${dim}`);
  const copy = (offset: number, bytes: number): ArrayBuffer =>
    buf.buffer.slice(buf.byteOffset + offset, buf.byteOffset + offset + bytes) as ArrayBuffer;
  const ids = new Int32Array(copy(idsOffset, 4 * found));
  const seen = new Uint8Array(vocab.size);
  ids.forEach((id, k) => {
    if (!(id > UNK_ID && id < vocab.size) || seen[id] === 1)
      throw damagedCache(cacheFile, `vector ${k + 1}: word id ${id} is out of range or repeated`);
    seen[id] = 1;
  });
  const vectors = new Float32Array(copy(vectorsOffset, 4 * found * dim));
  const bad = vectors.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    const word = JSON.stringify(vocab.wordOf(ids[Math.floor(bad / dim)]!));
    throw damagedCache(
      cacheFile,
      `value ${(bad % dim) + 1} of ${word} is ${vectors[bad]}, not a finite number`,
    );
  }
  return { ids, vectors };
}

async function writeCache(
  cacheFile: string,
  source: SourceStamp,
  vocab: Vocabulary,
  found: FoundVectors,
): Promise<void> {
  const header: CacheHeader = {
    source,
    vocabHash: vocab.hash(),
    dim: found.dim,
    found: found.ids.length,
    rows: found.rows,
    skipped: {
      count: found.invalid.count,
      errors: found.invalid.errors.map((e) => ({ line: e.line, detail: e.detail })),
    },
  };
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const prefix = Buffer.alloc(align4(16 + json.length));
  prefix.write(MAGIC, 0, "latin1");
  prefix.writeUInt32LE(CACHE_VERSION, 8);
  prefix.writeUInt32LE(json.length, 12);
  json.copy(prefix, 16);
  writeFileAtomic(cacheFile, [
    prefix,
    new Uint8Array(found.ids.buffer, found.ids.byteOffset, found.ids.byteLength),
    new Uint8Array(found.vectors.buffer, found.vectors.byteOffset, found.vectors.byteLength),
  ]);
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
