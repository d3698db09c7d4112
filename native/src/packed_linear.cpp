// y = x·Wᵀ + b without gradients on the CPU, over a copy of W packed once.
//
// OpenBLAS packs both operands of every product into its own layout before it multiplies. At
// the row counts of a server's steps (a rolling batch of 32 pairs: 8-64 rows a product) the
// weight (1500 × 664 for SPINN's composition) is far larger than x, so packing it again at every
// call costs as much as a third of the product (measured on a 2-core AVX2 machine, one BLAS
// thread: 16 × 664 · 664 × 1500 at 46-54 GFLOP/s through OpenBLAS, 66-79 here). Here the weight
// is packed once into panels of 16 output columns (K × 16 floats each, the panel's columns side by
// side for every k) and kept per thread while the weight is unchanged (same tensor, same
// version: an optimizer step or a load bumps it). A 6 × 16 AVX2/FMA tile then streams each panel
// once per 6 rows of x, with its 12 accumulators in registers.
//
// Taken only where it is faster: float32, no operand needing a gradient (training keeps ATen's
// products, and with them its numerics), at most kMaxRows rows (so that x stays in the core's
// cache while the panels stream past it), a CPU with AVX2 and FMA, and either one BLAS thread
// (a serve worker, SPINN_BLAS_THREADS=1) or at most kOneThreadRows rows (where one thread here
// beats two of OpenBLAS's). SPINN_GENERIC_KERNELS=1 turns it off with the other fused kernels,
// as SPINN_PACKED_LINEAR=0 does alone (to compare).
//
// Every output element is bias + Σₖ x[k]·w[k] in the order k = 0, 1, …, whatever the row count:
// an example's products do not depend on the batch it is in. They differ from OpenBLAS's in the
// last bits (another order of summation). Off x86-64 (no AVX2), products take at::linear.
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "common.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define SPINN_PACKED_LINEAR_KERNEL 1
#endif

namespace spinn {
namespace {

std::atomic<int> blasThreadCount{0};

#ifdef SPINN_PACKED_LINEAR_KERNEL
// SPINN_PACKED_LINEAR=0 or SPINN_GENERIC_KERNELS=1 turn the kernel off (read once).
bool switchedOn() {
  static const bool on = [] {
    const char* v = std::getenv("SPINN_PACKED_LINEAR");
    return !(v != nullptr && std::strcmp(v, "0") == 0);
  }();
  return on && !genericKernels();
}

constexpr int64_t kPanel = 16;
constexpr int64_t kTileRows = 6;
constexpr int64_t kMaxRows = 256;
constexpr int64_t kOneThreadRows = 16;
// Packed copies kept per thread; beyond, the oldest goes (a model has a handful of weights).
constexpr size_t kCacheEntries = 64;

bool cpuHasAvx2Fma() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

// A weight's packed copy: valid while the weight is alive (the weak pointer), at the version it
// was packed at, and at the same storage.
struct PackedWeight {
  c10::weak_intrusive_ptr<c10::TensorImpl> owner;
  int64_t version;
  const void* data;
  at::Tensor panels;  // panels × K × 16 floats; the last panel's missing columns are zeros
};
thread_local std::vector<PackedWeight> packedWeights;

at::Tensor pack(const at::Tensor& w) {
  const int64_t n = w.size(0), k = w.size(1), panels = (n + kPanel - 1) / kPanel;
  at::Tensor out = at::zeros({panels, k, kPanel}, w.options());
  const float* src = w.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  for (int64_t p = 0; p < panels; p++) {
    for (int64_t j = 0; j < kPanel && p * kPanel + j < n; j++) {
      const float* row = src + (p * kPanel + j) * k;
      float* col = dst + p * k * kPanel + j;
      for (int64_t i = 0; i < k; i++) col[i * kPanel] = row[i];
    }
  }
  return out;
}

const float* packedPanels(const at::Tensor& w) {
  c10::TensorImpl* impl = w.unsafeGetTensorImpl();
  const int64_t version = static_cast<int64_t>(w._version());
  for (auto it = packedWeights.begin(); it != packedWeights.end();) {
    auto live = it->owner.lock();
    if (!live) {
      it = packedWeights.erase(it);
      continue;
    }
    if (live.get() == impl) {
      if (it->version == version && it->data == w.data_ptr()) return it->panels.data_ptr<float>();
      it = packedWeights.erase(it);
      continue;
    }
    ++it;
  }
  if (packedWeights.size() >= kCacheEntries) packedWeights.erase(packedWeights.begin());
  packedWeights.push_back({c10::weak_intrusive_ptr<c10::TensorImpl>(w.getIntrusivePtr()), version,
                           w.data_ptr(), pack(w)});
  return packedWeights.back().panels.data_ptr<float>();
}

// Rows m..m+rows (rows ≤ 6; x holds 6 readable rows) times one panel: 16 columns of y (ncols of
// them written), starting from the panel's 16 biases.
__attribute__((target("avx2,fma"))) void tile(const float* x, int64_t ldx, const float* panel, int64_t k,
                                              const float* bias, float* y, int64_t ldy, int64_t ncols,
                                              int64_t rows) {
  const __m256 b0 = _mm256_loadu_ps(bias), b1 = _mm256_loadu_ps(bias + 8);
  __m256 a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1;
  __m256 a30 = b0, a31 = b1, a40 = b0, a41 = b1, a50 = b0, a51 = b1;
  const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx, *x4 = x + 4 * ldx, *x5 = x + 5 * ldx;
  for (int64_t i = 0; i < k; i++) {
    const __m256 w0 = _mm256_loadu_ps(panel + i * kPanel), w1 = _mm256_loadu_ps(panel + i * kPanel + 8);
    __m256 v = _mm256_broadcast_ss(x0 + i);
    a00 = _mm256_fmadd_ps(v, w0, a00);
    a01 = _mm256_fmadd_ps(v, w1, a01);
    v = _mm256_broadcast_ss(x1 + i);
    a10 = _mm256_fmadd_ps(v, w0, a10);
    a11 = _mm256_fmadd_ps(v, w1, a11);
    v = _mm256_broadcast_ss(x2 + i);
    a20 = _mm256_fmadd_ps(v, w0, a20);
    a21 = _mm256_fmadd_ps(v, w1, a21);
    v = _mm256_broadcast_ss(x3 + i);
    a30 = _mm256_fmadd_ps(v, w0, a30);
    a31 = _mm256_fmadd_ps(v, w1, a31);
    v = _mm256_broadcast_ss(x4 + i);
    a40 = _mm256_fmadd_ps(v, w0, a40);
    a41 = _mm256_fmadd_ps(v, w1, a41);
    v = _mm256_broadcast_ss(x5 + i);
    a50 = _mm256_fmadd_ps(v, w0, a50);
    a51 = _mm256_fmadd_ps(v, w1, a51);
  }
  alignas(32) float out[kTileRows][kPanel];
  _mm256_store_ps(out[0], a00);
  _mm256_store_ps(out[0] + 8, a01);
  _mm256_store_ps(out[1], a10);
  _mm256_store_ps(out[1] + 8, a11);
  _mm256_store_ps(out[2], a20);
  _mm256_store_ps(out[2] + 8, a21);
  _mm256_store_ps(out[3], a30);
  _mm256_store_ps(out[3] + 8, a31);
  _mm256_store_ps(out[4], a40);
  _mm256_store_ps(out[4] + 8, a41);
  _mm256_store_ps(out[5], a50);
  _mm256_store_ps(out[5] + 8, a51);
  for (int64_t r = 0; r < rows; r++) std::memcpy(y + r * ldy, out[r], sizeof(float) * ncols);
}

at::Tensor packedLinear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  const int64_t m = x.size(0), k = x.size(1), n = w.size(0), panels = (n + kPanel - 1) / kPanel;
  const float* packed = packedPanels(w);
  // The bias padded to whole panels, and the last rows (fewer than a tile) padded with zero
  // rows: in buffers kept by the thread, so that a product allocates nothing but its output.
  thread_local std::vector<float> bias, tail;
  bias.assign(static_cast<size_t>(panels * kPanel), 0.f);
  if (b.defined()) std::memcpy(bias.data(), b.data_ptr<float>(), sizeof(float) * n);
  const int64_t whole = m / kTileRows * kTileRows;
  const float* xs = x.data_ptr<float>();
  if (m > whole) {
    tail.assign(static_cast<size_t>(kTileRows * k), 0.f);
    std::memcpy(tail.data(), xs + whole * k, sizeof(float) * (m - whole) * k);
  }
  at::Tensor y = at::empty({m, n}, x.options());
  float* ys = y.data_ptr<float>();
  for (int64_t p = 0; p < panels; p++) {
    const float* panel = packed + p * k * kPanel;
    const float* pb = bias.data() + p * kPanel;
    const int64_t ncols = std::min(kPanel, n - p * kPanel);
    for (int64_t r = 0; r < whole; r += kTileRows)
      tile(xs + r * k, k, panel, k, pb, ys + r * n + p * kPanel, n, ncols, kTileRows);
    if (m > whole) tile(tail.data(), k, panel, k, pb, ys + whole * n + p * kPanel, n, ncols, m - whole);
  }
  return y;
}

// Whether a product takes the kernel (see the top). Inference tensors (never made here) keep
// no version, so a change to one could not be seen: they take libtorch's product.
bool takesPackedPath(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  if (!packedLinearAvailable()) return false;
  if (at::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad() || (b.defined() && b.requires_grad())))
    return false;
  auto plain = [](const at::Tensor& t) {
    return t.is_cpu() && t.scalar_type() == at::kFloat && t.is_contiguous() && !t.is_inference();
  };
  if (!plain(x) || !plain(w) || x.dim() != 2 || w.dim() != 2 || x.size(1) != w.size(1)) return false;
  if (b.defined() && (!plain(b) || b.dim() != 1 || b.size(0) != w.size(0))) return false;
  const int64_t rows = x.size(0);
  if (rows < 1 || rows > kMaxRows || x.size(1) < 1 || w.size(0) < 1) return false;
  return blasThreadCount.load(std::memory_order_relaxed) == 1 || rows <= kOneThreadRows;
}
#endif

}  // namespace

void noteBlasThreads(int n) { blasThreadCount.store(n, std::memory_order_relaxed); }

bool packedLinearAvailable() {
#ifdef SPINN_PACKED_LINEAR_KERNEL
  return switchedOn() && cpuHasAvx2Fma();
#else
  return false;
#endif
}

at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
#ifdef SPINN_PACKED_LINEAR_KERNEL
  if (takesPackedPath(x, weight, bias)) return packedLinear(x, weight, bias);
#endif
  return at::linear(x, weight, bias.defined() ? c10::optional<at::Tensor>(bias) : c10::nullopt);
}

}  // namespace spinn
