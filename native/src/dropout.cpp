// Inverted dropout with a one-byte mask drawn in bulk from the engine's seeded CPU generator.
//
// ATen's CPU dropout (libtorch 1.13 without MKL) draws its mask with bernoulli_, one double-
// precision Bernoulli draw per element through a serial TensorIterator loop (~20-40 ns an
// element on the development machine: tens of ms of a SNLI training step at batch 128), and
// keeps that mask as a float tensor for the backward pass. Here each call takes one 64-bit draw
// from the engine's generator as the key of a counter-based stream (SplitMix64: a few integer
// operations per 64 bits, no state to carry), each 64-bit value decides two elements (a 32-bit
// uniform each, kept when >= p·2³²), and the mask is one byte per element. The generator is the
// default CPU one that manualSeed seeds and getRngState/setRngState save and restore, and each
// call advances it by one draw, so runs stay reproducible and resume exactly. Other devices and
// dtypes apply the same CPU-drawn mask with ATen's product, so a run's masks do not depend on the
// device either.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#include <mutex>

#include "common.h"

namespace spinn {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The i-th value of the SplitMix64 stream keyed by `key` (Steele, Lea & Flood 2014).
inline uint64_t splitmix64(uint64_t key, uint64_t i) {
  uint64_t z = key + (i + 1) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// One 64-bit key from the engine's default CPU generator: each dropout call advances it by one draw.
uint64_t drawKey() {
  auto* gen = at::check_generator<at::CPUGeneratorImpl>(at::detail::getDefaultCPUGenerator());
  std::lock_guard<std::mutex> lock(gen->mutex_);
  return gen->random64();
}

// Which row of the whole (global) batch each of a tensor's rows is: the row itself, offset + row,
// or index[row]. Data-parallel workers hold parts of one global batch; element (g, c) of the
// global batch is decided by the same stream value in every worker, so a run's dropout masks do
// not depend on how the batch was split (models/batch-shard.ts).
struct RowMap {
  int64_t offset = 0;
  const int32_t* index = nullptr;
  int64_t globalRow(int64_t row) const { return index ? index[row] : offset + row; }
};

// mask[k] = 1 where element k is kept: its 32-bit uniform u satisfies u >= p·2³². The global
// element number e = g · features + c takes half e % 2 of stream value e / 2.
at::Tensor drawMask(int64_t rows, int64_t features, double p, uint64_t key, const RowMap& map) {
  at::Tensor mask = at::empty({rows * features}, at::kByte);
  uint8_t* m = mask.data_ptr<uint8_t>();
  const uint64_t threshold = static_cast<uint64_t>(std::llround(p * 4294967296.0));
  for (int64_t r = 0; r < rows; r++) {
    const uint64_t base = static_cast<uint64_t>(map.globalRow(r)) * static_cast<uint64_t>(features);
    uint64_t value = 0;
    for (int64_t c = 0; c < features; c++) {
      const uint64_t e = base + static_cast<uint64_t>(c);
      if (c == 0 || (e & 1) == 0) value = splitmix64(key, e >> 1);
      const uint64_t u = (e & 1) ? (value >> 32) : (value & 0xffffffffu);
      m[r * features + c] = u >= threshold;
    }
  }
  return mask;
}

template <typename T>
void applyMask(const at::Tensor& x, const at::Tensor& mask, at::Tensor& out, double scale) {
  const T* X = x.data_ptr<T>();
  const uint8_t* M = mask.data_ptr<uint8_t>();
  T* O = out.data_ptr<T>();
  const T s = static_cast<T>(scale);
  const int64_t n = x.numel();
  for (int64_t k = 0; k < n; k++) O[k] = M[k] ? X[k] * s : T(0);
}

at::Tensor masked(const at::Tensor& x, const at::Tensor& mask, double scale) {
  at::Tensor in = x.contiguous();
  at::Tensor out = at::empty_like(in);
  AT_DISPATCH_FLOATING_TYPES(in.scalar_type(), "dropout", [&] { applyMask<scalar_t>(in, mask, out, scale); });
  return out.view(x.sizes());
}

struct Dropout : public torch::autograd::Function<Dropout> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, double p, const at::Tensor& mask) {
    const double scale = 1.0 / (1.0 - p);
    ctx->save_for_backward({mask});
    ctx->saved_data["scale"] = scale;
    return masked(x, mask, scale);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    at::Tensor mask = ctx->get_saved_variables()[0];
    return {masked(grads[0], mask, ctx->saved_data["scale"].toDouble()), at::Tensor(), at::Tensor()};
  }
};

// dropout(x, p, train, rowIndex?, rowOffset?) -> x with each element zeroed with probability p
// and the rest scaled by 1/(1 - p) when training; x itself otherwise. Rows are x's first
// dimension; rowIndex (int32, one per row) or rowOffset places them in a larger global batch.
Napi::Value dropout(const Napi::CallbackInfo& info) {
  expectArgs(info, 3);
  at::Tensor& x = argTensor(info, 0);
  double p = argDouble(info, 1);
  bool train = argBool(info, 2);
  TORCH_CHECK(p >= 0 && p < 1, "dropout probability must be in [0, 1), got ", p);
  if (!train || p == 0) return wrapTensor(info.Env(), x);
  RowMap map;
  at::Tensor index = info.Length() > 3 ? argOptionalTensor(info, 3) : at::Tensor();
  if (index.defined()) {
    index = index.to(at::kCPU, at::kInt).contiguous();
    TORCH_CHECK(x.dim() >= 1 && index.numel() == x.size(0), "dropout: rowIndex needs one entry per row of x");
    map.index = index.data_ptr<int32_t>();
  }
  if (info.Length() > 4) map.offset = argInt(info, 4);
  // Drawn even for an empty part of a batch, so that every worker's generator stays in step.
  const uint64_t key = drawKey();
  const int64_t rows = x.dim() == 0 ? 1 : x.size(0);
  const int64_t features = rows == 0 ? 0 : x.numel() / rows;
  at::Tensor mask = drawMask(rows, features, p, key, map);
  const bool fast = x.is_cpu() && (x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble);
  if (fast) return wrapTensor(info.Env(), Dropout::apply(x, p, mask));
  // Other devices and dtypes: the same mask, applied by ATen (autograd through the product).
  at::Tensor keep = mask.view(x.sizes()).to(x.device(), x.scalar_type());
  return wrapTensor(info.Env(), x * keep * (1.0 / (1.0 - p)));
}

}  // namespace

const EntryTable dropoutEntryPoints = {
    {"dropout", dropout},
};

}  // namespace spinn
