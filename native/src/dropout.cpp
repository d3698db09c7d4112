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
// dtypes use ATen's dropout.
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

// mask[k] = 1 where element k is kept: its 32-bit uniform u satisfies u >= p·2³².
at::Tensor drawMask(int64_t n, double p) {
  uint64_t key;
  {
    auto* gen = at::check_generator<at::CPUGeneratorImpl>(at::detail::getDefaultCPUGenerator());
    std::lock_guard<std::mutex> lock(gen->mutex_);
    key = gen->random64();
  }
  at::Tensor mask = at::empty({n}, at::kByte);
  uint8_t* m = mask.data_ptr<uint8_t>();
  const uint64_t threshold = static_cast<uint64_t>(std::llround(p * 4294967296.0));
  for (int64_t k = 0; k < n; k += 2) {
    const uint64_t r = splitmix64(key, static_cast<uint64_t>(k / 2));
    m[k] = (r & 0xffffffffu) >= threshold;
    if (k + 1 < n) m[k + 1] = (r >> 32) >= threshold;
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
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, double p) {
    at::Tensor mask = drawMask(x.numel(), p);
    const double scale = 1.0 / (1.0 - p);
    ctx->save_for_backward({mask});
    ctx->saved_data["scale"] = scale;
    return masked(x, mask, scale);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    at::Tensor mask = ctx->get_saved_variables()[0];
    return {masked(grads[0], mask, ctx->saved_data["scale"].toDouble()), at::Tensor()};
  }
};

// dropout(x, p, train) -> x with each element zeroed with probability p and the rest scaled by
// 1/(1 - p) when training; x itself otherwise (as at::dropout).
Napi::Value dropout(const Napi::CallbackInfo& info) {
  expectArgs(info, 3);
  at::Tensor& x = argTensor(info, 0);
  double p = argDouble(info, 1);
  bool train = argBool(info, 2);
  TORCH_CHECK(p >= 0 && p < 1, "dropout probability must be in [0, 1), got ", p);
  const bool fast = x.is_cpu() && (x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble);
  if (!train || p == 0 || x.numel() == 0 || !fast) return wrapTensor(info.Env(), at::dropout(x, p, train));
  return wrapTensor(info.Env(), Dropout::apply(x, p));
}

}  // namespace

const EntryTable dropoutEntryPoints = {
    {"dropout", dropout},
};

}  // namespace spinn
