// safetensors: round trips, a file whose bytes are written here by hand, an independent reader
// (Python, when present), malformed files, and atomic saving.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import {
  deserialize,
  loadSafetensors,
  SafetensorsError,
  saveSafetensors,
  scope,
  serialize,
  tensor,
  zeros,
} from "../../src/engine/index.js";

const dir = mkdtempSync(path.join(tmpdir(), "spinn-st-"));

/** Builds a safetensors file from a header object and raw data, exactly as the format says. */
function handMade(header: object, data: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

describe("safetensors", () => {
  test("round trip of every dtype, including scalars and empty tensors", () => {
    scope(() => {
      const file = path.join(dir, "all.safetensors");
      const input = {
        f32: tensor([
          [1.5, -2],
          [3.25, 4],
        ]),
        f64: tensor([Math.PI, -1e-300], { dtype: "float64" }),
        i64: tensor(new BigInt64Array([-(2n ** 62n), 7n])),
        b: tensor([true, false, true], { dtype: "bool" }),
        scalar: tensor([5]).reshape(),
        empty: zeros([0, 3]),
      };
      saveSafetensors(file, input, { format: "pt" });
      const { tensors, metadata } = loadSafetensors(file);
      assert.deepEqual(metadata, { format: "pt" });
      assert.deepEqual([...tensors.keys()].sort(), Object.keys(input).sort());
      for (const [name, t] of Object.entries(input)) {
        const back = tensors.get(name)!;
        assert.equal(back.dtype, t.dtype, name);
        assert.deepEqual(back.shape, t.shape, name);
        assert.deepEqual(back.data(), t.data(), name);
      }
      assert.equal(tensors.get("i64")!.data<"int64">()[0], -(2n ** 62n));
    });
  });

  test("reads a file whose bytes are written by hand", () => {
    scope(() => {
      const data = Buffer.alloc(8 + 16);
      data.writeFloatLE(1.5, 0);
      data.writeFloatLE(-2, 4);
      data.writeBigInt64LE(3n, 8);
      data.writeBigInt64LE(-4n, 16);
      const bytes = handMade(
        {
          __metadata__: { note: "by hand" },
          w: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
          ids: { dtype: "I64", shape: [2, 1], data_offsets: [8, 24] },
        },
        data,
      );
      const { tensors, metadata } = deserialize(bytes, "hand.safetensors");
      assert.equal(metadata.note, "by hand");
      assert.deepEqual(tensors.get("w")!.toArray(), [1.5, -2]);
      assert.deepEqual(tensors.get("ids")!.shape, [2, 1]);
      assert.deepEqual(tensors.get("ids")!.toArray(), [3, -4]);
    });
  });

  test("writes exactly the bytes the format prescribes", () => {
    scope(() => {
      const bytes = Buffer.concat(serialize({ b: tensor([1, 2], { dtype: "float64" }), a: tensor([0.5]) }));
      const header =
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F64","shape":[2],"data_offsets":[4,20]}}';
      const padded = header + " ".repeat((8 - (header.length % 8)) % 8);
      assert.equal(bytes.readBigUInt64LE(0), BigInt(padded.length));
      assert.equal(bytes.subarray(8, 8 + padded.length).toString("utf8"), padded);
      const body = bytes.subarray(8 + padded.length);
      assert.equal(body.readFloatLE(0), 0.5);
      assert.equal(body.readDoubleLE(4), 1);
      assert.equal(body.readDoubleLE(12), 2);
      assert.equal(body.length, 20);
    });
  });

  const python = "/usr/bin/python3";
  const hasNumpy = spawnSync(python, ["-c", "import numpy"]).status === 0;
  test("an independent reader (Python + numpy, per the format spec) reads our files", {
    skip: !hasNumpy && "no /usr/bin/python3 with numpy",
  }, () => {
    scope(() => {
      const file = path.join(dir, "py.safetensors");
      saveSafetensors(file, {
        w: tensor([
          [1, 2, 3],
          [4, 5, 6],
        ]),
        n: tensor([-7, 8], { dtype: "int64" }),
      });
      const script = `
import json, struct, sys, numpy as np
raw = open(sys.argv[1], 'rb').read()
(n,) = struct.unpack('<Q', raw[:8]); header = json.loads(raw[8:8+n]); data = raw[8+n:]
types = {'F32': '<f4', 'I64': '<i8', 'F64': '<f8'}
out = {}
for k, v in header.items():
    if k == '__metadata__': continue
    b, e = v['data_offsets']
    out[k] = np.frombuffer(data[b:e], dtype=types[v['dtype']]).reshape(v['shape']).tolist()
print(json.dumps(out, sort_keys=True))`;
      const r = spawnSync(python, ["-c", script, file], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), {
        n: [-7, 8],
        w: [
          [1, 2, 3],
          [4, 5, 6],
        ],
      });
    });
  });

  test("malformed files are clear errors naming the file", () => {
    const good = handMade({ w: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, Buffer.alloc(8));
    const cases: [string, Buffer, RegExp][] = [
      ["short", Buffer.alloc(4), /too short/],
      [
        "huge header",
        Buffer.concat([Buffer.from([255, 255, 0, 0, 0, 0, 0, 0]), Buffer.alloc(16)]),
        /exceeds the file size/,
      ],
      ["truncated", good.subarray(0, good.length - 4), /outside the 4-byte data section/],
      ["bad json", handMade({}, Buffer.alloc(0)).fill(0x7b, 8), /not valid JSON/],
      [
        "f16",
        handMade({ w: { dtype: "F16", shape: [2], data_offsets: [0, 4] } }, Buffer.alloc(4)),
        /"w" has dtype "F16"/,
      ],
      [
        "size",
        handMade({ w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, Buffer.alloc(8)),
        /has 8 bytes but shape \[3\] of F32 needs 12/,
      ],
      [
        "shape",
        handMade({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 8] } }, Buffer.alloc(8)),
        /invalid shape/,
      ],
      [
        "overlap",
        handMade(
          {
            a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
            b: { dtype: "F32", shape: [1], data_offsets: [4, 8] },
          },
          Buffer.alloc(8),
        ),
        /overlap/,
      ],
    ];
    for (const [name, bytes, pattern] of cases) {
      const file = path.join(dir, `${name}.safetensors`);
      writeFileSync(file, bytes);
      assert.throws(
        () => loadSafetensors(file),
        (e: unknown) =>
          e instanceof SafetensorsError && e.message.startsWith(file) && pattern.test(e.message),
        name,
      );
    }
    assert.throws(() => loadSafetensors(path.join(dir, "missing.safetensors")), /cannot read \(ENOENT\)/);
  });

  test("a save that fails part-way leaves the previous file intact and no temporary files", () => {
    const sub = mkdtempSync(path.join(dir, "atomic-"));
    const file = path.join(sub, "model.safetensors");
    scope(() => saveSafetensors(file, { w: tensor([1, 2]) }));
    const before = readFileSync(file);
    const broken = tensor([3, 4]);
    broken.dispose();
    assert.throws(() => saveSafetensors(file, { a: tensor([9]), w: broken }), /disposed/);
    assert.deepEqual(readFileSync(file), before);
    assert.deepEqual(readdirSync(sub), ["model.safetensors"]);
  });
});
