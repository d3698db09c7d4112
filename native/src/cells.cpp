// Fused recurrent cells: the elementwise maths of the TreeLSTM composition and of the LSTM cell
// as one op each (forward and backward), instead of ~15 small ops and their autograd nodes per
// step. On the CPU the activations run vectorised over the whole gate block (ATen's tanh_ and
// sigmoid_) and the rest in plain loops, and the backward reuses the saved activations; on
// other devices the same maths in ATen ops (one JS -> native call either way).
//
// TreeLSTM (Tai et al. 2015, as in SPINN): gates [a, i, f1, f2, o] (R x 5H), children's states
// left/right = [h | c] (R x 2H):
//   c = tanh(a) sig(i) + sig(f1) c_left + sig(f2) c_right,   h = sig(o) tanh(c);  out = [h | c].
// LSTM: gates [i, f, g, o] (R x 4H), previous cell c0 (R x H):
//   c = sig(f) c0 + sig(i) tanh(g),   h = sig(o) tanh(c);  out = [h | c].
#include <torch/csrc/autograd/custom_function.h>

#include <array>
#include <utility>

#include "common.h"

namespace spinn {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// ---- the shared kernel ------------------------------------------------------------------------
//
// Both cells are one "gated cell": a block of gates per row, one candidate block under tanh, the
// others under sigmoid, and
//   c = cand in + sum_j forget_j prev_j,   h = sig(out) tanh(c),   out = [h | c].
// A layout names which gate block plays which part (compile-time, so the loops index with
// constants, as the hand-written kernels did). The TreeLSTM's two forget gates weigh its two
// children; the LSTM's one weighs its previous cell.
struct TreeLstmLayout {
  static constexpr const char* name = "treeLstmCell";
  static constexpr int64_t gates = 5, candidate = 0, input = 1, output = 4;
  static constexpr size_t prev = 2;
  static constexpr int64_t forget[prev] = {2, 3};
};
struct LstmLayout {
  static constexpr const char* name = "lstmCell";
  static constexpr int64_t gates = 4, input = 0, candidate = 2, output = 3;
  static constexpr size_t prev = 1;
  static constexpr int64_t forget[prev] = {1};
};
template <typename L>
using Prev = std::array<at::Tensor, L::prev>;

// ATen path (devices other than the CPU, dtypes the loops do not cover). Each op is its own
// kernel, so the order of the (commutative) products and sums below does not change any bit.
template <typename L>
std::vector<at::Tensor> activateAten(const at::Tensor& g) {
  auto parts = g.chunk(L::gates, 1);
  for (int64_t b = 0; b < L::gates; b++) parts[b] = b == L::candidate ? parts[b].tanh() : parts[b].sigmoid();
  return parts;
}

template <typename L>
at::Tensor forwardAten(const at::Tensor& g, const Prev<L>& prev) {
  auto act = activateAten<L>(g);
  at::Tensor c = act[L::candidate] * act[L::input];
  for (size_t j = 0; j < L::prev; j++) c = c + act[L::forget[j]] * prev[j];
  return at::cat({act[L::output] * c.tanh(), c}, 1);
}

// Returns [dGates, dPrev_0, ...].
template <typename L>
variable_list backwardAten(const at::Tensor& g, const Prev<L>& prev, const at::Tensor& c, const at::Tensor& dout,
                           int64_t H) {
  auto act = activateAten<L>(g);
  const at::Tensor &cand = act[L::candidate], &in = act[L::input], &o = act[L::output];
  at::Tensor tc = c.tanh();
  at::Tensor dh = dout.narrow(1, 0, H), dcOut = dout.narrow(1, H, H);
  at::Tensor dc = dcOut + dh * o * (1 - tc * tc);
  std::vector<at::Tensor> dg(L::gates);
  dg[L::candidate] = dc * in * (1 - cand * cand);
  dg[L::input] = dc * cand * in * (1 - in);
  dg[L::output] = dh * tc * o * (1 - o);
  variable_list grads(1);
  for (size_t j = 0; j < L::prev; j++) {
    const at::Tensor& f = act[L::forget[j]];
    dg[L::forget[j]] = dc * prev[j] * f * (1 - f);
    grads.push_back(dc * f);
  }
  grads[0] = at::cat(dg, 1);
  return grads;
}

// The CPU path: the transcendental functions run vectorised over whole blocks (ATen's tanh_ and
// sigmoid_), the combinations in one plain loop; the backward reuses the saved activations, so
// it evaluates no transcendental function at all.
//   act: the activated gates (R x gates*H, contiguous); tc: tanh(c); prev: R x H, unit stride.
template <typename L>
void activateCpu(at::Tensor& act, int64_t H) {
  // The same spans as ever (the sigmoid blocks either side of the candidate, each as one call):
  // ATen's vector and scalar tails may differ in the last bit, so the spans fix the results.
  if (L::candidate > 0) act.narrow(1, 0, L::candidate * H).sigmoid_();
  act.narrow(1, L::candidate * H, H).tanh_();
  const int64_t after = L::gates - L::candidate - 1;
  if (after > 0) act.narrow(1, (L::candidate + 1) * H, after * H).sigmoid_();
}

// Calls f(j) for each previous cell j as a compile-time constant: the loops below stay written
// out per cell (as the hand-written kernels were) instead of looping over cells per element.
template <typename L, typename F, size_t... J>
inline void eachPrevImpl(F&& f, std::index_sequence<J...>) {
  (f(std::integral_constant<size_t, J>{}), ...);
}
template <typename L, typename F>
inline void eachPrev(F&& f) {
  eachPrevImpl<L>(std::forward<F>(f), std::make_index_sequence<L::prev>{});
}

template <typename L, typename T>
void combineCpu(const at::Tensor& act, const Prev<L>& prev, at::Tensor& out, int64_t H) {
  const int64_t R = act.size(0);
  const T* A = act.data_ptr<T>();
  T* O = out.data_ptr<T>();
  for (int64_t r = 0; r < R; r++) {
    const T* ar = A + r * L::gates * H;
    std::array<const T*, L::prev> pr;
    eachPrev<L>([&](auto j) { pr[j] = prev[j].template data_ptr<T>() + r * prev[j].stride(0); });
    T* c = O + r * 2 * H + H;
    for (int64_t k = 0; k < H; k++) {
      T v = ar[L::candidate * H + k] * ar[L::input * H + k];
      eachPrev<L>([&](auto j) { v = v + ar[L::forget[j] * H + k] * pr[j][k]; });
      c[k] = v;
    }
  }
}

template <typename L, typename T>
void backwardCpu(const at::Tensor& act, const at::Tensor& tc, const Prev<L>& prev, const at::Tensor& dout,
                 at::Tensor& dg, Prev<L>& dprev, int64_t H) {
  const int64_t R = act.size(0);
  const T* A = act.data_ptr<T>();
  const T* TC = tc.data_ptr<T>();
  const T* D = dout.data_ptr<T>();
  T* DG = dg.data_ptr<T>();
  for (int64_t r = 0; r < R; r++) {
    const T* ar = A + r * L::gates * H;
    const T* dr = D + r * 2 * H;
    const T* tcr = TC + r * H;
    T* dgr = DG + r * L::gates * H;
    std::array<const T*, L::prev> pr;
    std::array<T*, L::prev> dpr;
    eachPrev<L>([&](auto j) {
      pr[j] = prev[j].template data_ptr<T>() + r * prev[j].stride(0);
      dpr[j] = dprev[j].template data_ptr<T>() + r * H;
    });
    for (int64_t k = 0; k < H; k++) {
      // Every load before the first store, as in the hand-written kernels: a store through dgr
      // might alias act for all the compiler knows, and would force the gates to be reloaded.
      T cand = ar[L::candidate * H + k], in = ar[L::input * H + k], o = ar[L::output * H + k];
      std::array<T, L::prev> f;
      eachPrev<L>([&](auto j) { f[j] = ar[L::forget[j] * H + k]; });
      T t = tcr[k];
      T dh = dr[k];
      T dc = dr[H + k] + dh * o * (T(1) - t * t);
      dgr[L::candidate * H + k] = dc * in * (T(1) - cand * cand);
      dgr[L::input * H + k] = dc * cand * in * (T(1) - in);
      eachPrev<L>([&](auto j) { dgr[L::forget[j] * H + k] = dc * pr[j][k] * f[j] * (T(1) - f[j]); });
      dgr[L::output * H + k] = dh * t * o * (T(1) - o);
      eachPrev<L>([&](auto j) { dpr[j][k] = dc * f[j]; });
    }
  }
}

bool fastPath(const at::Tensor& t) {
  return t.is_cpu() && (t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble);
}

// Where the previous cells were read from, when they are columns [start, start + H) of rows of
// a state memory (SPINN's children's cells, the tracker's previous cell): the CPU path then saves
// the row indices instead of copies of the cells, and reads the rows again in its backward pass
// (every memory row is written once, before it is read, so they are the same values). Without a
// memory the cells themselves are saved. When the output [h | c] is written to rows of the same
// memory (`outIndex`; the memory is 2H wide), tanh(c) is not saved either: the backward pass
// computes it again from those rows, with the same op on the same layout (the same bits).
struct CellSource {
  at::Tensor memory;
  std::vector<at::Tensor> index;  // one int64 row index per previous cell
  int64_t start = 0;
  at::Tensor outIndex;  // undefined: tanh(c) is saved
};

// The autograd node of either cell. prev: R x H views (row stride may be 2H) of the previous
// cells. Saved: on the CPU {act, tc, prev...} (with a source: {act, tc} or {act}, and its
// indices), else {gates, prev..., out}.
template <typename L>
struct GatedCell : public torch::autograd::Function<GatedCell<L>> {
  // The previous cells come as separate arguments: autograd sees only top-level tensor arguments
  // as the node's inputs.
  template <typename... Cells>
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& gates, const CellSource& source,
                            const Cells&... cells) {
    static_assert(sizeof...(Cells) == L::prev, "one previous cell per forget gate");
    Prev<L> prev{cells...};
    const int64_t H = gates.size(1) / L::gates;
    std::vector<at::Tensor> saved;
    if (!fastPath(gates)) {
      at::Tensor out = forwardAten<L>(gates, prev);
      saved.push_back(gates);
      saved.insert(saved.end(), prev.begin(), prev.end());
      saved.push_back(out);
      ctx->saved_data["fast"] = false;
      ctx->save_for_backward(saved);
      return out;
    }
    // The loops need unit stride along a row; a narrowed [h | c] row has it.
    for (auto& p : prev)
      if (p.stride(1) != 1) p = p.contiguous();
    at::Tensor act = gates.contiguous().clone();
    activateCpu<L>(act, H);
    at::Tensor out = at::empty({gates.size(0), 2 * H}, gates.options());
    AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), L::name, [&] { combineCpu<L, scalar_t>(act, prev, out, H); });
    at::Tensor tc = out.narrow(1, H, H).tanh();
    at::Tensor h = out.narrow(1, 0, H);
    at::mul_out(h, act.narrow(1, L::output * H, H), tc);
    saved = {act};
    const bool fromMemory = source.memory.defined(), recompute = source.outIndex.defined();
    if (recompute)
      ctx->saved_data["out_index"] = source.outIndex;
    else
      saved.push_back(tc);
    if (fromMemory) {
      ctx->saved_data["memory"] = source.memory;
      ctx->saved_data["start"] = source.start;
      for (size_t j = 0; j < L::prev; j++) ctx->saved_data["index" + std::to_string(j)] = source.index[j];
    } else {
      saved.insert(saved.end(), prev.begin(), prev.end());
    }
    ctx->saved_data["recompute_tc"] = recompute;
    ctx->saved_data["from_memory"] = fromMemory;
    ctx->saved_data["fast"] = true;
    ctx->save_for_backward(saved);
    return out;
  }

  // The previous cells of the CPU path: saved, or read again from the source's memory.
  static Prev<L> savedPrev(AutogradContext* ctx, const variable_list& saved, int64_t H) {
    Prev<L> prev;
    if (!ctx->saved_data["from_memory"].toBool()) {
      for (size_t j = 0; j < L::prev; j++) prev[j] = saved[2 + j];  // after act, tc
      return prev;
    }
    at::Tensor columns = ctx->saved_data["memory"].toTensor().narrow(1, ctx->saved_data["start"].toInt(), H);
    for (size_t j = 0; j < L::prev; j++)
      prev[j] = columns.index_select(0, ctx->saved_data["index" + std::to_string(j)].toTensor());
    return prev;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const bool fast = ctx->saved_data["fast"].toBool();
    if (!fast) {
      Prev<L> prev;
      for (size_t j = 0; j < L::prev; j++) prev[j] = saved[1 + j];
      const at::Tensor &g = saved[0], &out = saved.back();
      const int64_t H = g.size(1) / L::gates;
      at::Tensor dout = grads[0].defined() ? grads[0] : at::zeros_like(out);
      variable_list result = backwardAten<L>(g, prev, out.narrow(1, H, H), dout, H);
      result.insert(result.begin() + 1, at::Tensor());  // the source
      return result;
    }
    const at::Tensor& act = saved[0];
    const int64_t R = act.size(0), H = act.size(1) / L::gates;
    // tanh(c) as the forward pass computed it: out.narrow(1, H, H).tanh() of a contiguous R x 2H out.
    const at::Tensor tc = ctx->saved_data["recompute_tc"].toBool()
                              ? ctx->saved_data["memory"]
                                    .toTensor()
                                    .index_select(0, ctx->saved_data["out_index"].toTensor())
                                    .narrow(1, H, H)
                                    .tanh()
                              : saved[1];
    Prev<L> prev = savedPrev(ctx, saved, H);
    at::Tensor dout = grads[0].defined() ? grads[0].contiguous() : at::zeros({R, 2 * H}, act.options());
    at::Tensor dg = at::empty_like(act);
    Prev<L> dprev;
    for (auto& d : dprev) d = at::empty({R, H}, act.options());
    AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), L::name,
                               [&] { backwardCpu<L, scalar_t>(act, tc, prev, dout, dg, dprev, H); });
    variable_list result{dg, at::Tensor()};  // the gates, the source
    result.insert(result.end(), dprev.begin(), dprev.end());
    return result;
  }
};

void checkCell(const at::Tensor& gates, int64_t parts, const std::vector<const at::Tensor*>& cells) {
  TORCH_CHECK(gates.dim() == 2 && gates.size(1) % parts == 0, "gates must be rows x ", parts, "H, got ",
              gates.sizes());
  const int64_t H = gates.size(1) / parts;
  for (const at::Tensor* c : cells) {
    TORCH_CHECK(c->dim() == 2 && c->size(0) == gates.size(0) && c->size(1) == H, "cell states must be ",
                gates.size(0), " x ", H, ", got ", c->sizes());
    TORCH_CHECK(c->scalar_type() == gates.scalar_type() && c->device() == gates.device(),
                "cell states must have the gates' dtype and device");
  }
}

// The Int32Array of R rows at argument a, checked against the memory's rows, as an index there.
at::Tensor cellRows(const Napi::CallbackInfo& info, size_t a, int64_t R, int64_t limit, const at::Tensor& memory) {
  if (!info[a].IsTypedArray() || info[a].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(a + 1) + ": expected an Int32Array of rows");
  auto rows = info[a].As<Napi::Int32Array>();
  TORCH_CHECK(static_cast<int64_t>(rows.ElementLength()) == R, "cell source: ", rows.ElementLength(), " rows for ", R,
              " cells");
  at::Tensor index = at::empty({R}, at::kLong);
  int64_t* out = index.data_ptr<int64_t>();
  for (int64_t k = 0; k < R; k++) {
    int32_t r = rows[static_cast<size_t>(k)];
    TORCH_CHECK(r >= 0 && r < limit, "cell source: row ", r, " is outside the memory's ", limit, " rows");
    out[k] = r;
  }
  return memory.is_cpu() ? index : index.to(memory.device());
}

// The optional source arguments from position i on: memory, then one Int32Array of rows per
// previous cell, the first column, and optionally the output's rows (see CellSource). Absent or
// null memory: none. Only the CPU path uses a source (other devices save the cells as before), so
// the entry points read it only there.
CellSource argCellSource(const Napi::CallbackInfo& info, size_t i, const at::Tensor& gates, size_t cells) {
  CellSource source;
  if (info.Length() <= i || info[i].IsNull() || info[i].IsUndefined()) return source;
  expectArgs(info, i + cells + 2);
  source.memory = argTensor(info, i);
  source.start = argInt(info, i + cells + 1);
  const int64_t R = gates.size(0), H = gates.size(1) / (cells == 2 ? 5 : 4), limit = source.memory.size(0);
  TORCH_CHECK(source.memory.dim() == 2 && source.start >= 0 && source.start + H <= source.memory.size(1),
              "cell source: columns [", source.start, ", ", source.start + H, ") outside the memory's ",
              source.memory.sizes());
  for (size_t j = 0; j < cells; j++) source.index.push_back(cellRows(info, i + 1 + j, R, limit, source.memory));
  size_t out = i + cells + 2;
  if (info.Length() > out && !info[out].IsNull() && !info[out].IsUndefined()) {
    TORCH_CHECK(source.memory.size(1) == 2 * H, "cell source: the output rows need a memory 2H = ", 2 * H,
                " wide, got ", source.memory.size(1));
    source.outIndex = cellRows(info, out, R, limit, source.memory);
  }
  return source;
}

// treeLstmCell(gates R x 5H, leftCell R x H, rightCell R x H[, memory, leftRows, rightRows, start[, outRows]])
//   -> [h | c] (R x 2H). With a memory, the cells are its rows' columns [start, start + H).
Napi::Value treeLstmCell(const Napi::CallbackInfo& info) {
  expectArgs(info, 3);
  at::Tensor& gates = argTensor(info, 0);
  at::Tensor& left = argTensor(info, 1);
  at::Tensor& right = argTensor(info, 2);
  checkCell(gates, 5, {&left, &right});
  CellSource source = fastPath(gates) ? argCellSource(info, 3, gates, 2) : CellSource{};
  return wrapTensor(info.Env(), GatedCell<TreeLstmLayout>::apply(gates, source, left, right));
}

// lstmCell(gates R x 4H, prevCell R x H[, memory, rows, start[, outRows]]) -> [h | c] (R x 2H)
Napi::Value lstmCell(const Napi::CallbackInfo& info) {
  expectArgs(info, 2);
  at::Tensor& gates = argTensor(info, 0);
  at::Tensor& prev = argTensor(info, 1);
  checkCell(gates, 4, {&prev});
  CellSource source = fastPath(gates) ? argCellSource(info, 2, gates, 1) : CellSource{};
  return wrapTensor(info.Env(), GatedCell<LstmLayout>::apply(gates, source, prev));
}

}  // namespace

const EntryTable cellEntryPoints = {
    {"treeLstmCell", treeLstmCell},
    {"lstmCell", lstmCell},
};

}  // namespace spinn
