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
// contributions. Rows a step never used stay zero in both buffers.
//
// Memory: dY is only needed in the backward pass, so a chunk's dY is allocated (resized from
// empty, shared by every holder) by the first of its steps to run backward. The backward runs
// the steps in reverse, so dY grows chunk by chunk while the forward pass's saved activations
// are freed step by step, instead of all of dY existing at the start of the backward pass, when
// memory peaks.
#include <torch/csrc/autograd/custom_function.h>

#include "common.h"

namespace spinn {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct CollectWeightGrad : public torch::autograd::Function<CollectWeightGrad> {
  // Without a bias, `bias` is an empty placeholder (autograd inputs must be defined tensors).
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& weight, const at::Tensor& bias,
                            const at::Tensor& inputs, const at::Tensor& outputGrads, bool hasBias) {
    ctx->saved_data["inputs"] = inputs;
    ctx->saved_data["output_grads"] = outputGrads;
    ctx->saved_data["has_bias"] = hasBias;
    return at::zeros({}, weight.options());
  }

  static variable_list backward(AutogradContext* ctx, variable_list) {
    at::Tensor x = ctx->saved_data["inputs"].toTensor();
    at::Tensor dy = ctx->saved_data["output_grads"].toTensor();
    TORCH_CHECK(dy.size(0) == x.size(0), "batched linear: the output-gradient buffer was never filled");
    at::Tensor db = ctx->saved_data["has_bias"].toBool() ? dy.sum(0) : at::Tensor();
    return {dy.t().mm(x), db, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

struct LinearStep : public torch::autograd::Function<LinearStep> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& token, const at::Tensor& x,
                            const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& inputs,
                            const at::Tensor& outputGrads, int64_t offset, bool hasBias) {
    inputs.narrow(0, offset, x.size(0)).copy_(x);
    ctx->saved_data["capacity"] = inputs.size(0);
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

// batchedLinearCollector(weight, bias | null, inputs, outputGrads) -> token. inputs: the chunk's
// rows x in (zeros); outputGrads: 0 x out, sized by the first step to run backward.
Napi::Value batchedLinearCollector(const Napi::CallbackInfo& info) {
  expectArgs(info, 4);
  at::Tensor& weight = argTensor(info, 0);
  at::Tensor bias = argOptionalTensor(info, 1);
  at::Tensor& inputs = argTensor(info, 2);
  at::Tensor& outputGrads = argTensor(info, 3);
  TORCH_CHECK(weight.dim() == 2, "weight must be 2-D, got ", weight.sizes());
  TORCH_CHECK(inputs.dim() == 2 && inputs.size(1) == weight.size(1), "inputs buffer must be rows x ",
              weight.size(1), ", got ", inputs.sizes());
  TORCH_CHECK(outputGrads.dim() == 2 && outputGrads.size(1) == weight.size(0) && outputGrads.size(0) == 0,
              "output-gradient buffer must be empty (0 x ", weight.size(0), "; the backward pass sizes it), got ",
              outputGrads.sizes());
  bool hasBias = bias.defined();
  return wrapTensor(info.Env(), CollectWeightGrad::apply(weight, hasBias ? bias : placeholder(weight), inputs,
                                                         outputGrads, hasBias));
}

// batchedLinearStep(token, x, weight, bias | null, inputs, outputGrads, offset) -> x·Wᵀ + b
Napi::Value batchedLinearStep(const Napi::CallbackInfo& info) {
  expectArgs(info, 7);
  at::Tensor& token = argTensor(info, 0);
  at::Tensor& x = argTensor(info, 1);
  at::Tensor& weight = argTensor(info, 2);
  at::Tensor bias = argOptionalTensor(info, 3);
  at::Tensor& inputs = argTensor(info, 4);
  at::Tensor& outputGrads = argTensor(info, 5);
  int64_t offset = argInt(info, 6);
  TORCH_CHECK(x.dim() == 2 && x.size(1) == weight.size(1), "x must be rows x ", weight.size(1), ", got ",
              x.sizes());
  TORCH_CHECK(offset >= 0 && offset + x.size(0) <= inputs.size(0), "rows ", offset, "..",
              offset + x.size(0), " are outside the buffers' ", inputs.size(0), " rows");
  // The weight and bias reach autograd through the collector only.
  bool hasBias = bias.defined();
  return wrapTensor(info.Env(), LinearStep::apply(token, x, weight.detach(),
                                                  hasBias ? bias.detach() : placeholder(weight), inputs,
                                                  outputGrads, offset, hasBias));
}

}  // namespace

const EntryTable batchedLinearEntryPoints = {
    {"batchedLinearCollector", batchedLinearCollector},
    {"batchedLinearStep", batchedLinearStep},
};

}  // namespace spinn
