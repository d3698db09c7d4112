// A linear layer applied at many steps of one pass (SPINN's composition and tracker: one small
// product per transition step) whose weight gradient is taken in a few large products during
// the backward pass instead of one small product per step.
//
// With stock autograd each step's backward computes its own dW = dYᵀ·X, a product whose inner
// dimension is only that step's row count (~100-250), and adds it into the weight's gradient:
// dozens of small, BLAS-unfriendly products per batch. Here the pass's rows are cut into chunks
// of consecutive steps (a few thousand rows each). Each step copies its input rows into its
// chunk's buffer X (forward) and its output gradient into the chunk's buffer dY (backward), and
// returns only the input gradient dY·W. A collector node per chunk, whose output token every step
// of the chunk consumes, runs after the backward of all its steps (autograd orders it so) and
// computes dW = dYᵀ·X and db = Σ dY over the chunk's rows at once; autograd sums the chunks'
// contributions. Rows a step never used stay zero in both buffers. When the steps' inputs are
// rows of state memories (SPINN's products), a step records their row indices instead, and the
// collector gathers the chunk's X again (see Source).
//
// Memory: dY is only needed in the backward pass, so a chunk's dY is allocated (resized from
// empty, shared by every holder) by the first of its steps to run backward. The backward runs
// the steps in reverse, so dY grows chunk by chunk while the forward pass's saved activations
// are freed step by step, instead of all of dY existing at the start of the backward pass, when
// memory peaks.
#include <torch/csrc/autograd/custom_function.h>

#include "state_memory.h"

namespace spinn {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Where a chunk's input rows come from. Dense: a buffer `inputs` that each step copies its rows
// into. Gathered: the rows are columns of state-memory rows (the tracker's and the composition's
// inputs are stateGathers, side by side), so a step records only their row indices, and the
// collector gathers the chunk's inputs again from the memories in its backward pass. Every
// memory row is written once, before it is read, so the gathered rows are the ones the forward
// pass multiplied (the memories live, as the graph's state, until the backward pass is done).
struct Source {
  at::Tensor memory, index;  // index: capacity x group row indices (int64, on the host)
  int64_t start = 0, count = 0;
};

at::Tensor gatherSource(const Source& s) {
  at::Tensor index = s.memory.is_cpu() ? s.index : s.index.to(s.memory.device());
  int64_t group = s.index.size(1);
  return s.memory.narrow(1, s.start, s.count)
      .index_select(0, index.reshape({-1}))
      .reshape({s.index.size(0), group * s.count});
}

void saveSource(AutogradContext* ctx, const std::string& key, const Source& s) {
  ctx->saved_data[key + "memory"] = s.memory;
  ctx->saved_data[key + "index"] = s.index;
  ctx->saved_data[key + "start"] = s.start;
  ctx->saved_data[key + "count"] = s.count;
}

Source loadSource(AutogradContext* ctx, const std::string& key) {
  return {ctx->saved_data[key + "memory"].toTensor(), ctx->saved_data[key + "index"].toTensor(),
          ctx->saved_data[key + "start"].toInt(), ctx->saved_data[key + "count"].toInt()};
}

struct CollectWeightGrad : public torch::autograd::Function<CollectWeightGrad> {
  // Without a bias, `bias` is an empty placeholder (autograd inputs must be defined tensors).
  // sources: empty (dense: `inputs` holds the rows) or the gathered input's parts, in column order.
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& weight, const at::Tensor& bias,
                            const at::Tensor& inputs, const at::Tensor& outputGrads, bool hasBias,
                            const std::vector<Source>& sources) {
    ctx->saved_data["inputs"] = inputs;
    ctx->saved_data["output_grads"] = outputGrads;
    ctx->saved_data["has_bias"] = hasBias;
    ctx->saved_data["sources"] = static_cast<int64_t>(sources.size());
    for (size_t k = 0; k < sources.size(); k++) saveSource(ctx, "source" + std::to_string(k), sources[k]);
    return at::zeros({}, weight.options());
  }

  static variable_list backward(AutogradContext* ctx, variable_list) {
    at::Tensor x = ctx->saved_data["inputs"].toTensor();
    int64_t n = ctx->saved_data["sources"].toInt();
    if (n > 0) {
      std::vector<at::Tensor> parts;
      for (int64_t k = 0; k < n; k++) parts.push_back(gatherSource(loadSource(ctx, "source" + std::to_string(k))));
      x = n == 1 ? parts[0] : at::cat(parts, 1);
    }
    at::Tensor dy = ctx->saved_data["output_grads"].toTensor();
    TORCH_CHECK(dy.size(0) == x.size(0), "batched linear: the output-gradient buffer was never filled");
    at::Tensor db = ctx->saved_data["has_bias"].toBool() ? dy.sum(0) : at::Tensor();
    return {dy.t().mm(x), db, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// One step's product; its input rows were put in the chunk's buffer (or their indices recorded)
// by the entry point. `capacity`: the chunk's rows.
struct LinearStep : public torch::autograd::Function<LinearStep> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& token, const at::Tensor& x,
                            const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& outputGrads,
                            int64_t offset, int64_t capacity, bool hasBias) {
    ctx->saved_data["capacity"] = capacity;
    ctx->saved_data["weight"] = weight;
    ctx->saved_data["output_grads"] = outputGrads;
    ctx->saved_data["offset"] = offset;
    return hasBias ? at::addmm(bias, x, weight.t()) : x.mm(weight.t());
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    at::Tensor weight = ctx->saved_data["weight"].toTensor();
    at::Tensor dybuf = ctx->saved_data["output_grads"].toTensor();
    int64_t offset = ctx->saved_data["offset"].toInt();
    const at::Tensor& dy = grads[0];
    if (dybuf.size(0) == 0) dybuf.resize_({ctx->saved_data["capacity"].toInt(), dy.size(1)}).zero_();
    dybuf.narrow(0, offset, dy.size(0)).copy_(dy);
    return {at::zeros({}, weight.options()), dy.mm(weight), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

at::Tensor placeholder(const at::Tensor& like) { return at::empty({0}, like.options().requires_grad(false)); }

void checkOutputGrads(const at::Tensor& weight, const at::Tensor& outputGrads) {
  TORCH_CHECK(weight.dim() == 2, "weight must be 2-D, got ", weight.sizes());
  TORCH_CHECK(outputGrads.dim() == 2 && outputGrads.size(1) == weight.size(0) && outputGrads.size(0) == 0,
              "output-gradient buffer must be empty (0 x ", weight.size(0), "; the backward pass sizes it), got ",
              outputGrads.sizes());
}

// batchedLinearCollector(weight, bias | null, inputs, outputGrads) -> token. inputs: the chunk's
// rows x in (zeros); outputGrads: 0 x out, sized by the first step to run backward.
Napi::Value batchedLinearCollector(const Napi::CallbackInfo& info) {
  expectArgs(info, 4);
  at::Tensor& weight = argTensor(info, 0);
  at::Tensor bias = argOptionalTensor(info, 1);
  at::Tensor& inputs = argTensor(info, 2);
  at::Tensor& outputGrads = argTensor(info, 3);
  checkOutputGrads(weight, outputGrads);
  TORCH_CHECK(inputs.dim() == 2 && inputs.size(1) == weight.size(1), "inputs buffer must be rows x ",
              weight.size(1), ", got ", inputs.sizes());
  bool hasBias = bias.defined();
  return wrapTensor(info.Env(), CollectWeightGrad::apply(weight, hasBias ? bias : placeholder(weight), inputs,
                                                         outputGrads, hasBias, std::vector<Source>{}));
}

// The sources' arguments from position i on, 4 per source: memory, index (capacity x group,
// int64), start, count; a null memory ends the list.
std::vector<Source> argSources(const Napi::CallbackInfo& info, size_t i, size_t n) {
  std::vector<Source> sources;
  for (size_t k = 0; k < n; k++, i += 4) {
    at::Tensor memory = argOptionalTensor(info, i);
    if (!memory.defined()) break;
    Source s{memory, argTensor(info, i + 1), argInt(info, i + 2), argInt(info, i + 3)};
    TORCH_CHECK(s.index.dim() == 2 && s.index.scalar_type() == at::kLong && s.index.is_cpu(),
                "batched linear: source ", k, "'s index must be a 2-D int64 host tensor, got ", s.index.sizes());
    TORCH_CHECK(s.start >= 0 && s.count >= 1 && s.start + s.count <= memory.size(1), "batched linear: columns [",
                s.start, ", ", s.start + s.count, ") outside the memory's ", memory.size(1));
    sources.push_back(s);
  }
  return sources;
}

// batchedLinearGatherCollector(weight, bias | null, outputGrads, memoryA, indexA, startA, countA,
//   memoryB | null, indexB | null, startB, countB) -> token, for a chunk whose input rows are
// [memoryA rows indexA[r], columns startA.. | memoryB ...] (see Source).
Napi::Value batchedLinearGatherCollector(const Napi::CallbackInfo& info) {
  expectArgs(info, 11);
  at::Tensor& weight = argTensor(info, 0);
  at::Tensor bias = argOptionalTensor(info, 1);
  at::Tensor& outputGrads = argTensor(info, 2);
  checkOutputGrads(weight, outputGrads);
  std::vector<Source> sources = argSources(info, 3, 2);
  TORCH_CHECK(!sources.empty(), "batched linear: a gathered chunk needs a source");
  int64_t columns = 0;
  for (const Source& s : sources) {
    TORCH_CHECK(s.index.size(0) == sources[0].index.size(0), "batched linear: the sources' rows differ");
    columns += s.index.size(1) * s.count;
  }
  TORCH_CHECK(columns == weight.size(1), "batched linear: the sources give ", columns, " columns, the weight takes ",
              weight.size(1));
  bool hasBias = bias.defined();
  return wrapTensor(info.Env(), CollectWeightGrad::apply(weight, hasBias ? bias : placeholder(weight),
                                                         placeholder(weight), outputGrads, hasBias, sources));
}

// The weight and bias as a step uses them: they reach autograd through the collector only.
struct StepWeights {
  at::Tensor weight, bias;
  bool hasBias;
};
StepWeights stepWeights(const Napi::CallbackInfo& info, size_t i) {
  at::Tensor& weight = argTensor(info, i);
  at::Tensor bias = argOptionalTensor(info, i + 1);
  bool hasBias = bias.defined();
  return {weight.detach(), hasBias ? bias.detach() : placeholder(weight), hasBias};
}

void checkInput(const at::Tensor& x, const at::Tensor& weight) {
  TORCH_CHECK(x.dim() == 2 && x.size(1) == weight.size(1), "x must be rows x ", weight.size(1), ", got ",
              x.sizes());
}

void checkRows(int64_t offset, int64_t rows, int64_t capacity) {
  TORCH_CHECK(offset >= 0 && offset + rows <= capacity, "rows ", offset, "..", offset + rows,
              " are outside the buffers' ", capacity, " rows");
}

// batchedLinearStep(token, x, weight, bias | null, inputs, outputGrads, offset) -> x·Wᵀ + b
Napi::Value batchedLinearStep(const Napi::CallbackInfo& info) {
  expectArgs(info, 7);
  at::Tensor& x = argTensor(info, 1);
  StepWeights w = stepWeights(info, 2);
  checkInput(x, w.weight);
  at::Tensor& inputs = argTensor(info, 4);
  at::Tensor& outputGrads = argTensor(info, 5);
  int64_t offset = argInt(info, 6);
  checkRows(offset, x.size(0), inputs.size(0));
  {
    at::NoGradGuard noGrad;
    inputs.narrow(0, offset, x.size(0)).copy_(x);
  }
  return wrapTensor(info.Env(), LinearStep::apply(argTensor(info, 0), x, w.weight, w.bias, outputGrads, offset,
                                                  inputs.size(0), w.hasBias));
}

// Copies the JS Int32Array of row indices at argument i into rows offset.. of index (capacity x
// group). The rows are those the step's gather read (which checked them against the
// memory's size); here they are checked to be rows at all.
void recordRows(const Napi::CallbackInfo& info, size_t i, at::Tensor& index, int64_t offset, int64_t rows) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i + 1) + ": expected an Int32Array of rows");
  TORCH_CHECK(index.dim() == 2 && index.scalar_type() == at::kLong && index.is_cpu() && index.is_contiguous(),
              "batched linear: an index must be a contiguous 2-D int64 host tensor, got ", index.sizes());
  auto values = info[i].As<Napi::Int32Array>();
  int64_t group = index.size(1), n = static_cast<int64_t>(values.ElementLength());
  TORCH_CHECK(n == rows * group, "batched linear: ", n, " row indices for ", rows, " rows of ", group);
  int64_t* out = index.data_ptr<int64_t>() + offset * group;
  for (int64_t k = 0; k < n; k++) {
    int32_t r = values[static_cast<size_t>(k)];
    TORCH_CHECK(r >= 0, "batched linear: row ", r, " is negative");
    out[k] = r;
  }
}

// batchedLinearGatherStep(token, weight, bias | null, outputGrads, offset, indices, part...) -> x·Wᵀ + b,
// where x is the gather of the state-memory parts that follow (kGatherPartArgs arguments each,
// as stateGather takes them), made in the same call; indices: the chunk's index tensor of each
// part, in which the part's rows are recorded at `offset`.
Napi::Value batchedLinearGatherStep(const Napi::CallbackInfo& info) {
  constexpr size_t first = 6;
  expectArgs(info, first + kGatherPartArgs);
  StepWeights w = stepWeights(info, 1);
  at::Tensor& outputGrads = argTensor(info, 3);
  int64_t offset = argInt(info, 4);
  std::vector<at::Tensor> indices = argTensorList(info, 5);
  TORCH_CHECK(info.Length() == first + kGatherPartArgs * indices.size(), "batched linear: ", indices.size(),
              " chunk indices for ", (info.Length() - first) / kGatherPartArgs, " gathered parts");
  at::Tensor x = gatherArgs(info, first);
  checkInput(x, w.weight);
  const int64_t rows = x.size(0);
  for (size_t k = 0; k < indices.size(); k++) {
    checkRows(offset, rows, indices[k].size(0));
    recordRows(info, first + kGatherPartArgs * k + 3, indices[k], offset, rows);
  }
  return wrapTensor(info.Env(), LinearStep::apply(argTensor(info, 0), x, w.weight, w.bias, outputGrads, offset,
                                                  indices[0].size(0), w.hasBias));
}

// gatheredLinear(weight, bias | null, part...) -> linear(x, weight, bias), x the gather of the
// state-memory parts (as stateGather takes them), in one call; differentiable through stock
// autograd (a product used once per pass, or without gradients: evaluation).
Napi::Value gatheredLinear(const Napi::CallbackInfo& info) {
  constexpr size_t first = 2;
  expectArgs(info, first + kGatherPartArgs);
  at::Tensor& weight = argTensor(info, 0);
  at::Tensor bias = argOptionalTensor(info, 1);
  at::Tensor x = gatherArgs(info, first);
  checkInput(x, weight);
  return wrapTensor(info.Env(), spinn::linear(x, weight, bias));
}

}  // namespace

const EntryTable batchedLinearEntryPoints = {
    {"batchedLinearCollector", batchedLinearCollector},
    {"batchedLinearStep", batchedLinearStep},
    {"batchedLinearGatherCollector", batchedLinearGatherCollector},
    {"batchedLinearGatherStep", batchedLinearGatherStep},
    {"gatheredLinear", gatheredLinear},
};

}  // namespace spinn
