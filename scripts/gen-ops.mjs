// The op table: one row per libtorch op the engine exposes. From it this script writes both the
// C++ shim entry points (native/src/ops_generated.cpp) and their TypeScript typing
// (src/engine/native-ops.generated.ts), so the two can never drift apart. Hand-written native
// code is kept for what a row cannot say: tensor creation, data readback, autograd, optimizers.
//
// Row: [name, "kind arg, kind arg, ...", returnKind, C++ expression over the args, method?, doc?].
// A row whose op is simply a method of its first (tensor) argument also names that Tensor method,
// written as TypeScript parameters without types ("flatten(startDim = 0, endDim = -1)",
// "reshape(...shape)"), with its JSDoc if it has one: from these the script writes
// src/engine/tensor-ops.generated.ts, the base class of Tensor. The remaining op arguments map in
// order onto the parameters, and their kinds give the types. Methods with logic of their own
// (a tensor-or-number operand, optional dimensions) stay hand-written in src/engine/tensor.ts.
// Argument kinds: T tensor, T? optional tensor (null), T[] tensor list, i int, i[] int list,
// f number (double), s number as a Scalar (integral values stay integers), b boolean, dtype
// (ScalarType code). Returns: T, T[], f, i, b.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

export const OPS = [
  // elementwise arithmetic (broadcasting)
  ["add", "T a, T b", "T", "at::add(a, b)"],
  ["sub", "T a, T b", "T", "at::sub(a, b)"],
  ["mul", "T a, T b", "T", "at::mul(a, b)"],
  ["div", "T a, T b", "T", "at::div(a, b)"],
  ["addScalar", "T a, s s", "T", "at::add(a, s)"],
  ["mulScalar", "T a, s s", "T", "at::mul(a, s)"],
  ["rsubScalar", "T a, s s", "T", "at::rsub(a, s)", "rsub(other)", "other - this"],
  ["divScalar", "T a, s s", "T", "at::div(a, s)"],
  ["powScalar", "T a, s e", "T", "at::pow(a, e)", "pow(exponent)"],
  ["maximum", "T a, T b", "T", "at::maximum(a, b)", "maximum(other)"],
  ["minimum", "T a, T b", "T", "at::minimum(a, b)", "minimum(other)"],
  ["clamp", "T a, s lo, s hi", "T", "at::clamp(a, lo, hi)", "clamp(min, max)"],
  ["neg", "T a", "T", "at::neg(a)", "neg()"],
  ["abs", "T a", "T", "at::abs(a)", "abs()"],
  ["sqrt", "T a", "T", "at::sqrt(a)", "sqrt()"],
  ["square", "T a", "T", "at::square(a)", "square()"],
  ["sigmoid", "T a", "T", "at::sigmoid(a)", "sigmoid()"],
  ["tanh", "T a", "T", "at::tanh(a)", "tanh()"],
  ["relu", "T a", "T", "at::relu(a)", "relu()"],
  ["exp", "T a", "T", "at::exp(a)", "exp()"],
  ["log", "T a", "T", "at::log(a)", "log()"],
  // comparisons and logic (results are bool tensors)
  ["eq", "T a, T b", "T", "at::eq(a, b)"],
  ["ne", "T a, T b", "T", "at::ne(a, b)", "ne(other)"],
  ["lt", "T a, T b", "T", "at::lt(a, b)"],
  ["le", "T a, T b", "T", "at::le(a, b)", "le(other)"],
  ["gt", "T a, T b", "T", "at::gt(a, b)"],
  ["ge", "T a, T b", "T", "at::ge(a, b)", "ge(other)"],
  ["eqScalar", "T a, s s", "T", "at::eq(a, s)"],
  ["ltScalar", "T a, s s", "T", "at::lt(a, s)"],
  ["gtScalar", "T a, s s", "T", "at::gt(a, s)"],
  ["logicalAnd", "T a, T b", "T", "at::logical_and(a, b)", "logicalAnd(other)"],
  ["logicalOr", "T a, T b", "T", "at::logical_or(a, b)", "logicalOr(other)"],
  ["logicalNot", "T a", "T", "at::logical_not(a)", "logicalNot()"],
  ["where", "T cond, T a, T b", "T", "at::where(cond, a, b)"],
  [
    "maskedFill",
    "T a, T mask, s value",
    "T",
    "at::masked_fill(a, mask, value)",
    "maskedFill(mask, value)",
    "Where mask is true, value; elsewhere this tensor's element.",
  ],
  // linear algebra
  ["matmul", "T a, T b", "T", "at::matmul(a, b)", "matmul(other)"],
  ["mm", "T a, T b", "T", "at::mm(a, b)", "mm(other)"],
  ["bmm", "T a, T b", "T", "at::bmm(a, b)", "bmm(other)"],
  ["addmm", "T bias, T a, T b", "T", "at::addmm(bias, a, b)"],
  ["linear", "T x, T weight, T? bias", "T", "spinn::linear(x, weight, bias)"],
  // shape
  ["reshape", "T a, i[] shape", "T", "at::reshape(a, shape)", "reshape(...shape)"],
  ["transpose", "T a, i d0, i d1", "T", "at::transpose(a, d0, d1)", "transpose(dim0, dim1)"],
  ["permute", "T a, i[] dims", "T", "a.permute(dims)", "permute(...dims)"],
  [
    "narrow",
    "T a, i dim, i start, i length",
    "T",
    "at::narrow(a, dim, start, length)",
    "narrow(dim, start, length)",
  ],
  ["select", "T a, i dim, i index", "T", "at::select(a, dim, index)", "select(dim, index)"],
  ["squeeze", "T a, i dim", "T", "at::squeeze(a, dim)", "squeeze(dim)"],
  ["unsqueeze", "T a, i dim", "T", "at::unsqueeze(a, dim)", "unsqueeze(dim)"],
  ["expand", "T a, i[] shape", "T", "a.expand(shape)", "expand(...shape)"],
  ["flatten", "T a, i start, i end", "T", "at::flatten(a, start, end)", "flatten(startDim = 0, endDim = -1)"],
  ["contiguous", "T a", "T", "a.contiguous()", "contiguous()"],
  ["cat", "T[] xs, i dim", "T", "at::cat(xs, dim)"],
  ["stack", "T[] xs, i dim", "T", "at::stack(xs, dim)"],
  ["split", "T a, i size, i dim", "T[]", "at::split(a, size, dim)"],
  ["splitSizes", "T a, i[] sizes, i dim", "T[]", "at::split_with_sizes(a, sizes, dim)"],
  ["chunk", "T a, i chunks, i dim", "T[]", "at::chunk(a, chunks, dim)", "chunk(chunks, dim = 0)"],
  // indexing
  ["indexSelect", "T a, i dim, T index", "T", "at::index_select(a, dim, index)", "indexSelect(dim, index)"],
  ["gather", "T a, i dim, T index", "T", "at::gather(a, dim, index)", "gather(dim, index)"],
  [
    "scatterAdd",
    "T a, i dim, T index, T src",
    "T",
    "at::scatter_add(a, dim, index, src)",
    "scatterAdd(dim, index, src)",
  ],
  [
    "indexAdd",
    "T a, i dim, T index, T src",
    "T",
    "at::index_add(a, dim, index, src)",
    "indexAdd(dim, index, src)",
  ],
  [
    "indexCopy",
    "T a, i dim, T index, T src",
    "T",
    "at::index_copy(a, dim, index, src)",
    "indexCopy(dim, index, src)",
  ],
  ["embedding", "T weight, T indices, i paddingIdx", "T", "at::embedding(weight, indices, paddingIdx)"],
  // reductions
  ["sumAll", "T a", "T", "at::sum(a)"],
  ["sum", "T a, i[] dims, b keepdim", "T", "at::sum(a, dims, keepdim)"],
  ["meanAll", "T a", "T", "at::mean(a)"],
  ["mean", "T a, i[] dims, b keepdim", "T", "at::mean(a, dims, keepdim)"],
  ["maxAll", "T a", "T", "at::max(a)", "max()", "Maximum of all elements."],
  ["max", "T a, i dim, b keepdim", "T[]", "spinn::pair(at::max(a, dim, keepdim))"],
  ["minAll", "T a", "T", "at::min(a)", "min()"],
  ["argmax", "T a, i dim, b keepdim", "T", "at::argmax(a, dim, keepdim)", "argmax(dim, keepdim = false)"],
  ["norm", "T a", "T", "at::norm(a)", "norm()", "L2 norm of all elements."],
  // normalisation, losses, regularisation
  ["softmax", "T a, i dim", "T", "at::softmax(a, dim)", "softmax(dim)"],
  ["logSoftmax", "T a, i dim", "T", "at::log_softmax(a, dim)", "logSoftmax(dim)"],
  [
    "crossEntropy",
    "T logits, T target, i reduction",
    "T",
    "at::cross_entropy_loss(logits, target, {}, spinn::reduction(reduction), -100, 0.0)",
  ],
  [
    "nllLoss",
    "T logp, T target, i reduction",
    "T",
    "at::nll_loss(logp, target, {}, spinn::reduction(reduction), -100)",
  ],
  [
    "batchNorm",
    "T x, T? weight, T? bias, T? runningMean, T? runningVar, b train, f momentum, f eps",
    "T",
    "at::batch_norm(x, weight, bias, runningMean, runningVar, train, momentum, eps, true)",
  ],
  [
    "layerNorm",
    "T x, i[] shape, T? weight, T? bias, f eps",
    "T",
    "at::layer_norm(x, shape, weight, bias, eps, true)",
  ],
  // conversion and copies
  ["toDtype", "T a, dtype dtype", "T", "a.to(dtype)"],
  ["toDevice", "T a, i device", "T", "a.to(spinn::device(device))"],
  ["clone", "T a", "T", "a.clone()", "clone()"],
  ["detach", "T a", "T", "a.detach()", "detach()", "The same data, cut from the autograd graph."],
  ["copyInto", "T dst, T src", "T", "spinn::copyInto(dst, src)"],
  ["zerosLike", "T a", "T", "at::zeros_like(a)"],
  // random (seeded by manualSeed)
  ["multinomial", "T probs, i n, b replacement", "T", "at::multinomial(probs, n, replacement)"],
  ["bernoulli", "T probs", "T", "at::bernoulli(probs)"],
  // scalars read back
  ["item", "T a", "f", "a.item<double>()", "item()", "The value of a one-element tensor."],
];

const KINDS = {
  T: { ts: "Handle", cpp: (i) => `spinn::argTensor(info, ${i})` },
  "T?": { ts: "Handle | null", cpp: (i) => `spinn::argOptionalTensor(info, ${i})` },
  "T[]": { ts: "Handle[]", cpp: (i) => `spinn::argTensorList(info, ${i})` },
  i: { ts: "number", cpp: (i) => `spinn::argInt(info, ${i})` },
  "i[]": { ts: "number[]", cpp: (i) => `spinn::argIntList(info, ${i})` },
  f: { ts: "number", cpp: (i) => `spinn::argDouble(info, ${i})` },
  // A JS number as a libtorch Scalar: integral values stay integers, so int64 tensors combined
  // with whole numbers stay int64 (PyTorch's wrapped-number type promotion).
  s: { ts: "number", cpp: (i) => `spinn::argScalar(info, ${i})` },
  b: { ts: "boolean", cpp: (i) => `spinn::argBool(info, ${i})` },
  dtype: { ts: "number", cpp: (i) => `spinn::argDtype(info, ${i})` },
};
const RETURNS = { T: "Handle", "T[]": "Handle[]", f: "number" };
const WRAP = { T: "spinn::wrapTensor", "T[]": "spinn::wrapTensorList", f: "spinn::wrapDouble" };

function parseArgs(spec) {
  if (!spec.trim()) return [];
  return spec.split(",").map((part) => {
    const [kind, name] = part.trim().split(/\s+/);
    if (!KINDS[kind] || !name) throw new Error(`bad argument spec "${part}"`);
    return { kind, name };
  });
}

// The body of one entry point; the registration (common.h's entry-point table) runs it inside
// spinn::guard under the row's name.
function cppFor([name, spec, ret, expr]) {
  const args = parseArgs(spec);
  const lines = args.map((a, i) => `  auto ${a.name} = ${KINDS[a.kind].cpp(i)};`);
  return [
    `static Napi::Value op_${name}(const Napi::CallbackInfo& info) {`,
    `  spinn::expectArgs(info, ${args.length});`,
    ...lines,
    `  return ${WRAP[ret]}(info.Env(), ${expr});`,
    "}",
  ].join("\n");
}

function tsFor([name, spec, ret]) {
  const args = parseArgs(spec).map((a) => `${a.name}: ${KINDS[a.kind].ts}`);
  return `  ${name}(${args.join(", ")}): ${RETURNS[ret]};`;
}

// Tensor methods: parameter types by argument kind, and how a result returns to the caller.
const METHOD_TYPES = { T: "Tensor", i: "number", f: "number", s: "number", b: "boolean", "i[]": "number[]" };
const METHOD_RETURNS = {
  T: ["Tensor", (call) => `wrap(${call})`],
  "T[]": ["Tensor[]", (call) => `${call}.map(wrap)`],
  f: ["number", (call) => call],
};

function methodFor([name, spec, ret, , signature, doc]) {
  const fail = (why) => {
    throw new Error(`op ${name}: method "${signature}" ${why}`);
  };
  const match = /^(\w+)\((.*)\)$/.exec(signature);
  if (!match) fail("is not name(params)");
  const [, method, list] = match;
  const params = list.trim() ? list.split(",").map((p) => p.trim()) : [];
  const args = parseArgs(spec);
  if (args[0]?.kind !== "T" || args.length !== params.length + 1)
    fail("needs one parameter per op argument after the first, a tensor");
  const decls = [];
  const call = ["this.handle"];
  params.forEach((param, k) => {
    const { kind } = args[k + 1];
    const [, rest, pname, fallback] =
      /^(\.\.\.)?(\w+)(?:\s*=\s*(.+))?$/.exec(param) ?? fail(`bad parameter "${param}"`);
    if (rest && kind !== "i[]") fail(`rest parameter ${pname} needs an int list`);
    const type = METHOD_TYPES[kind] ?? fail(`no method type for kind ${kind}`);
    decls.push(`${rest ?? ""}${pname}: ${type}${fallback ? ` = ${fallback}` : ""}`);
    call.push(kind === "T" ? `${pname}.handle` : pname);
  });
  const [type, back] = METHOD_RETURNS[ret] ?? fail(`no method return for kind ${ret}`);
  return [
    ...(doc ? [`  /** ${doc} */`] : []),
    `  ${method}(${decls.join(", ")}): ${type} {`,
    `    return ${back(`native.${name}(${call.join(", ")})`)};`,
    "  }",
  ].join("\n");
}

function writeIfChanged(file, text) {
  if (existsSync(file) && readFileSync(file, "utf8") === text) return;
  writeFileSync(file, text);
}

export function generateOps(root) {
  const banner = "// Generated by scripts/gen-ops.mjs from its op table. Do not edit by hand.\n";
  const cpp = [
    banner,
    '#include "common.h"\n',
    ...OPS.map(cppFor),
    "\nconst spinn::EntryTable spinn::generatedEntryPoints = {",
    ...OPS.map(([name]) => `    {"${name}", op_${name}},`),
    "};\n",
  ].join("\n");
  const ts = [
    banner,
    'import type { Handle } from "./native-types.js";\n',
    "/** Entry points generated from the op table; each takes and returns native handles. */",
    "export interface NativeOps {",
    ...OPS.map(tsFor),
    "}\n",
    "/** The names of those entry points, at run time (NativeOps is erased). */",
    "export const nativeOpNames: readonly (keyof NativeOps)[] = [",
    ...OPS.map(([name]) => `  "${name}",`),
    "];\n",
  ].join("\n");
  const methods = [
    banner,
    'import { native } from "./native.js";',
    'import type { Handle } from "./native-types.js";',
    // A cycle, and a safe one: Tensor extends TensorOps, which needs wrap (hence Tensor) only
    // when a method runs, long after both modules have loaded. tensor.ts is the only importer.
    'import { type Tensor, wrap } from "./tensor.js";\n',
    "/**",
    " * The Tensor methods that each forward to one op of the table (scripts/gen-ops.mjs): the",
    " * tensor is the op's first argument. Tensor extends this class; its hand-written methods are",
    " * the ones with logic of their own.",
    " */",
    "export abstract class TensorOps {",
    "  /** @internal the native handle; throws if the tensor was disposed. */",
    "  abstract get handle(): Handle;\n",
    OPS.filter((row) => row[4])
      .map(methodFor)
      .join("\n\n"),
    "}\n",
  ].join("\n");
  writeIfChanged(path.join(root, "native/src/ops_generated.cpp"), cpp);
  writeIfChanged(path.join(root, "src/engine/tensor-ops.generated.ts"), methods);
  writeIfChanged(path.join(root, "src/engine/native-ops.generated.ts"), ts);
}
