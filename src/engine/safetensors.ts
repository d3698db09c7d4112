// Named tensors in the safetensors format (https://github.com/huggingface/safetensors), which
// Python's `safetensors` and PyTorch users can read: an 8-byte little-endian header length, a
// JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}} padded
// with spaces to 8 bytes, then the raw little-endian data. Saving is atomic.
import { readFileSync } from "node:fs";
import { endianness } from "node:os";
import { writeFileAtomic } from "../util/atomic-write.js";
import type { Device, DType } from "./dtype.js";
import { tensor } from "./factories.js";
import type { Tensor } from "./tensor.js";

const FORMAT_DTYPE: Record<DType, string> = { float32: "F32", float64: "F64", int64: "I64", bool: "BOOL" };
const ENGINE_DTYPE: Record<string, DType> = { F32: "float32", F64: "float64", I64: "int64", BOOL: "bool" };
const ITEM_SIZE: Record<DType, number> = { float32: 4, float64: 8, int64: 8, bool: 1 };
const MAX_HEADER = 100 * 1024 * 1024;

if (endianness() !== "LE") throw new Error("safetensors support assumes a little-endian machine");

export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

export type NamedTensors = Map<string, Tensor> | Record<string, Tensor>;

function entries(tensors: NamedTensors): [string, Tensor][] {
  return tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
}

/** The bytes of a safetensors file holding `tensors` (names sorted, as Python's writer does). */
export function serialize(tensors: NamedTensors, metadata?: Record<string, string>): Buffer[] {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const blobs: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of entries(tensors).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (name === "__metadata__")
      throw new SafetensorsError('"__metadata__" is reserved and cannot name a tensor');
    const data = t.data();
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    header[name] = {
      dtype: FORMAT_DTYPE[t.dtype],
      shape: [...t.shape],
      data_offsets: [offset, offset + bytes.length],
    };
    blobs.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const jsonBytes = Buffer.from(json, "utf8");
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(jsonBytes.length));
  return [prefix, jsonBytes, ...blobs];
}

/** Saves named tensors to `file` atomically (temp file + rename). */
export function saveSafetensors(
  file: string,
  tensors: NamedTensors,
  metadata?: Record<string, string>,
): void {
  writeFileAtomic(file, serialize(tensors, metadata));
}

export interface LoadedTensors {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

function fail(where: string, message: string): never {
  throw new SafetensorsError(`${where}: ${message}`);
}

/** Parses safetensors bytes; `where` names the source in error messages. */
export function deserialize(bytes: Uint8Array, where: string, device: Device = "cpu"): LoadedTensors {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 8) fail(where, "file is too short to be safetensors (no 8-byte header length)");
  const headerLen = buf.readBigUInt64LE(0);
  if (headerLen > BigInt(Math.min(MAX_HEADER, buf.length - 8))) {
    fail(
      where,
      `header length ${headerLen} exceeds the file size (${buf.length} bytes): not a safetensors file or truncated`,
    );
  }
  const dataStart = 8 + Number(headerLen);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, dataStart).toString("utf8"));
  } catch (err) {
    fail(where, `header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header))
    fail(where, "header is not a JSON object");
  const dataLen = buf.length - dataStart;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const tensors = new Map<string, Tensor>();
  const spans: [number, number, string][] = [];
  try {
    for (const [name, raw] of Object.entries(header)) {
      if (name === "__metadata__") continue;
      const e = raw as HeaderEntry;
      const dtype = ENGINE_DTYPE[e?.dtype];
      if (!dtype) {
        fail(
          where,
          `tensor "${name}" has dtype ${JSON.stringify(e?.dtype)}, which the engine does not support (F32, F64, I64, BOOL)`,
        );
      }
      if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
        fail(where, `tensor "${name}" has an invalid shape ${JSON.stringify(e.shape)}`);
      }
      const [begin, end] = Array.isArray(e.data_offsets) ? e.data_offsets : [Number.NaN, Number.NaN];
      if (!Number.isInteger(begin) || !Number.isInteger(end) || begin < 0 || end < begin || end > dataLen) {
        fail(
          where,
          `tensor "${name}" has data_offsets ${JSON.stringify(e.data_offsets)} outside the ${dataLen}-byte data section`,
        );
      }
      const numel = e.shape.reduce((a, b) => a * b, 1);
      if (end - begin !== numel * ITEM_SIZE[dtype]) {
        fail(
          where,
          `tensor "${name}" has ${end - begin} bytes but shape [${e.shape}] of ${e.dtype} needs ${numel * ITEM_SIZE[dtype]}`,
        );
      }
      spans.push([begin, end, name]);
      // Copy into a fresh, aligned buffer: file offsets need not be aligned for the element type.
      const copy = new Uint8Array(end - begin);
      copy.set(buf.subarray(dataStart + begin, dataStart + end));
      tensors.set(name, tensor(typedView(dtype, copy.buffer), { dtype, shape: e.shape, device }));
    }
    spans.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) {
      if (spans[i]![0] < spans[i - 1]![1])
        fail(where, `tensors "${spans[i - 1]![2]}" and "${spans[i]![2]}" overlap`);
    }
  } catch (err) {
    for (const t of tensors.values()) t.dispose();
    throw err;
  }
  return { tensors, metadata };
}

function typedView(
  dtype: DType,
  buffer: ArrayBuffer,
): Float32Array | Float64Array | BigInt64Array | Uint8Array {
  switch (dtype) {
    case "float32":
      return new Float32Array(buffer);
    case "float64":
      return new Float64Array(buffer);
    case "int64":
      return new BigInt64Array(buffer);
    case "bool":
      return new Uint8Array(buffer);
  }
}

/** Loads every tensor of a safetensors file (created outside any scope's reach only if you keep them). */
export function loadSafetensors(file: string, device: Device = "cpu"): LoadedTensors {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new SafetensorsError(
      `${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  return deserialize(bytes, file, device);
}
