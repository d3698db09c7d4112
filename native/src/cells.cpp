// Fused recurrent cells: the elementwise maths of the TreeLSTM composition and of the LSTM cell
// as one op each (forward and backward), instead of ~15 small ops and their autograd nodes per
// step. On the CPU the activations run vectorised over the whole gate block (ATen's tanh_ and
// sigmoid_) and the rest in plain loops, and the backward reuses the saved activations; on
// other devices the same maths in ATen ops (one JS -> native call either way). Each cell also
// runs inside a state memory (GatedCellInMemory): previous cells read from its rows, the output
// written to its rows, in the same call.
//
// TreeLSTM (Tai et al. 2015, as in SPINN): gates [a, i, f1, f2, o] (R x 5H), children's states
// left/right = [h | c] (R x 2H):
//   c = tanh(a) sig(i) + sig(f1) c_left + sig(f2) c_right,   h = sig(o) tanh(c);  out = [h | c].
// LSTM: gates [i, f, g, o] (R x 4H), previous cell c0 (R x H):
//   c = sig(f) c0 + sig(i) tanh(g),   h = sig(o) tanh(c);  out = [h | c].
#include <torch/csrc/autograd/custom_function.h>

#include <array>
#include <cstring>
#include <utility>

#include "state_memory.h"

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

// One row's c = cand in + sum_j forget_j prev_j, from its activated gates `ar` and its previous
// cells `pr` (H values each).
template <typename L, typename T>
inline void combineRow(const T* ar, const std::array<const T*, L::prev>& pr, T* c, int64_t H) {
  for (int64_t k = 0; k < H; k++) {
    T v = ar[L::candidate * H + k] * ar[L::input * H + k];
    eachPrev<L>([&](auto j) { v = v + ar[L::forget[j] * H + k] * pr[j][k]; });
    c[k] = v;
  }
}

template <typename L, typename T>
void combineCpu(const at::Tensor& act, const Prev<L>& prev, at::Tensor& out, int64_t H) {
  const int64_t R = act.size(0);
  const T* A = act.data_ptr<T>();
  T* O = out.data_ptr<T>();
  for (int64_t r = 0; r < R; r++) {
    std::array<const T*, L::prev> pr;
    eachPrev<L>([&](auto j) { pr[j] = prev[j].template data_ptr<T>() + r * prev[j].stride(0); });
    combineRow<L, T>(A + r * L::gates * H, pr, O + r * 2 * H + H, H);
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
  return t.is_cpu() && (t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble) && !genericKernels();
}

// One cell's forward maths from the gates and the previous cells (R x H, any row stride; on the
// CPU path made contiguous along a row in place, as its backward reads them so).
// out: [h | c] (R x 2H). On the CPU path also act (the activated gates) and tc = tanh(c), which
// its backward reuses; undefined on the ATen path.
struct CellForward {
  at::Tensor out, act, tc;
};

template <typename L>
CellForward cellForward(const at::Tensor& gates, Prev<L>& prev) {
  if (!fastPath(gates)) return {forwardAten<L>(gates, prev), at::Tensor(), at::Tensor()};
  const int64_t H = gates.size(1) / L::gates;
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
  return {out, act, tc};
}

// The CPU path's backward from the saved activations: [dGates, dPrev_0, ...].
template <typename L>
variable_list cellBackwardCpu(const at::Tensor& act, const at::Tensor& tc, const Prev<L>& prev,
                              const at::Tensor& dout) {
  const int64_t R = act.size(0), H = act.size(1) / L::gates;
  at::Tensor dg = at::empty_like(act);
  Prev<L> dprev;
  for (auto& d : dprev) d = at::empty({R, H}, act.options());
  AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), L::name,
                             [&] { backwardCpu<L, scalar_t>(act, tc, prev, dout.contiguous(), dg, dprev, H); });
  variable_list result{dg};
  result.insert(result.end(), dprev.begin(), dprev.end());
  return result;
}

// The autograd node of either cell. prev: R x H views (row stride may be 2H) of the previous
// cells. Saved: on the CPU {act, tc, prev...}, else {gates, prev..., out}.
template <typename L>
struct GatedCell : public torch::autograd::Function<GatedCell<L>> {
  // The previous cells come as separate arguments: autograd sees only top-level tensor arguments
  // as the node's inputs.
  template <typename... Cells>
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& gates, const Cells&... cells) {
    static_assert(sizeof...(Cells) == L::prev, "one previous cell per forget gate");
    Prev<L> prev{cells...};
    CellForward f = cellForward<L>(gates, prev);
    const bool fast = f.act.defined();
    std::vector<at::Tensor> saved = fast ? std::vector<at::Tensor>{f.act, f.tc} : std::vector<at::Tensor>{gates};
    saved.insert(saved.end(), prev.begin(), prev.end());
    if (!fast) saved.push_back(f.out);
    ctx->saved_data["fast"] = fast;
    ctx->save_for_backward(saved);
    return f.out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const bool fast = ctx->saved_data["fast"].toBool();
    Prev<L> prev;
    for (size_t j = 0; j < L::prev; j++) prev[j] = saved[(fast ? 2 : 1) + j];
    const int64_t R = saved[0].size(0), H = saved[0].size(1) / L::gates;
    at::Tensor dout = grads[0].defined() ? grads[0] : at::zeros({R, 2 * H}, saved[0].options());
    if (fast) return cellBackwardCpu<L>(saved[0], saved[1], prev, dout);
    return backwardAten<L>(saved[0], prev, saved.back().narrow(1, H, H), dout, H);
  }
};

// Where an in-memory cell reads and writes: a state memory of [h | c] rows (2H wide) and its
// gradient buffer; the rows of each previous cell (their columns [H, 2H)); the rows its output
// goes to. Indices on the memory's device.
struct CellRows {
  at::Tensor memory, gradMemory;
  std::vector<at::Tensor> prev;
  at::Tensor out;
};

// A cell inside a state memory (state_memory.cpp): reads its previous cells from the memory's
// rows, computes [h | c] from the gates, and writes it to the output rows, in one op. It is a
// stateGather of each previous cell, the cell and a stateWrite, with the same values and
// gradients: it takes the memory's latest token and returns the next one, so its backward runs
// after that of every later read (the gradient of its output rows is then complete, in the
// gradient buffer), and before the backward of the writes of the rows it read, into whose
// gradient it adds the previous cells' gradients. It saves only the activated gates (the CPU
// path) or the gates (ATen): the previous cells and the output are rows of the memory, written
// once, read again by the backward pass (tanh(c) by the same op on the same layout as the
// forward pass: the same bits).
template <typename L>
struct GatedCellInMemory : public torch::autograd::Function<GatedCellInMemory<L>> {
  static Prev<L> previousCells(const CellRows& rows, int64_t H) {
    Prev<L> prev;
    at::Tensor columns = rows.memory.narrow(1, H, H);
    for (size_t j = 0; j < L::prev; j++) prev[j] = columns.index_select(0, rows.prev[j]);
    return prev;
  }

  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& token, const at::Tensor& gates,
                            const CellRows& rows) {
    const int64_t H = gates.size(1) / L::gates;
    Prev<L> prev = previousCells(rows, H);
    CellForward f = cellForward<L>(gates, prev);
    rows.memory.index_copy_(0, rows.out, f.out);
    ctx->saved_data["memory"] = rows.memory;
    ctx->saved_data["grad_memory"] = rows.gradMemory;
    ctx->saved_data["out"] = rows.out;
    for (size_t j = 0; j < L::prev; j++) ctx->saved_data["prev" + std::to_string(j)] = rows.prev[j];
    ctx->saved_data["fast"] = f.act.defined();
    ctx->save_for_backward({f.act.defined() ? f.act : gates});
    return at::zeros({}, rows.memory.options());
  }

  static variable_list backward(AutogradContext* ctx, variable_list) {
    const at::Tensor saved = ctx->get_saved_variables()[0];
    CellRows rows{ctx->saved_data["memory"].toTensor(), ctx->saved_data["grad_memory"].toTensor(), {},
                  ctx->saved_data["out"].toTensor()};
    for (size_t j = 0; j < L::prev; j++) rows.prev.push_back(ctx->saved_data["prev" + std::to_string(j)].toTensor());
    const int64_t H = saved.size(1) / L::gates;
    const Prev<L> prev = previousCells(rows, H);
    const at::Tensor dout = rows.gradMemory.index_select(0, rows.out);
    const at::Tensor c = rows.memory.index_select(0, rows.out).narrow(1, H, H);
    variable_list d = ctx->saved_data["fast"].toBool() ? cellBackwardCpu<L>(saved, c.tanh(), prev, dout)
                                                       : backwardAten<L>(saved, prev, c, dout, H);
    at::Tensor columns = rows.gradMemory.narrow(1, H, H);
    for (size_t j = 0; j < L::prev; j++) columns.index_add_(0, rows.prev[j], d[1 + j]);
    return {at::zeros({}, rows.memory.options()), d[0], at::Tensor()};  // the token, the gates, the rows
  }
};

// Without gradients on the CPU (evaluation, serving), an in-memory cell needs no autograd node
// (nor its saved data) and no gathered copies of its previous cells: it reads the previous cells
// straight from the memory's rows and writes [h | c] straight into its output rows. The maths are
// cellForward's, op for op on the same layouts (activateCpu on a copy of the gates, combineRow,
// tanh of the c half of an R x 2H block, then o * tanh(c)), so the bits are the same; only the
// per-call overhead goes (a small batch's step is mostly that overhead).
template <typename L, typename T>
void cellInMemoryNoGrad(const at::Tensor& gates, at::Tensor& memory, const std::array<const int64_t*, L::prev>& prevRows,
                        const int64_t* outRows, int64_t R, int64_t H) {
  at::Tensor act = gates.contiguous().clone();
  activateCpu<L>(act, H);
  at::Tensor out = at::empty({R, 2 * H}, gates.options());
  T* M = memory.data_ptr<T>();
  const T* A = act.data_ptr<T>();
  T* O = out.data_ptr<T>();
  for (int64_t r = 0; r < R; r++) {
    std::array<const T*, L::prev> pr;
    eachPrev<L>([&](auto j) { pr[j] = M + prevRows[j][r] * 2 * H + H; });
    combineRow<L, T>(A + r * L::gates * H, pr, O + r * 2 * H + H, H);
  }
  const at::Tensor tc = out.narrow(1, H, H).tanh();
  const T* TC = tc.data_ptr<T>();
  // Every output row is written after all previous cells were read: an output row may be a row
  // some other cell of this call reads.
  for (int64_t r = 0; r < R; r++) {
    T* h = O + r * 2 * H;
    const T* o = A + r * L::gates * H + L::output * H;
    for (int64_t k = 0; k < H; k++) h[k] = o[k] * TC[r * H + k];
  }
  for (int64_t r = 0; r < R; r++) std::memcpy(M + outRows[r] * 2 * H, O + r * 2 * H, 2 * H * sizeof(T));
}

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

// treeLstmCell(gates R x 5H, leftCell R x H, rightCell R x H) -> [h | c] (R x 2H)
Napi::Value treeLstmCell(const Napi::CallbackInfo& info) {
  expectArgs(info, 3);
  at::Tensor& gates = argTensor(info, 0);
  at::Tensor& left = argTensor(info, 1);
  at::Tensor& right = argTensor(info, 2);
  checkCell(gates, 5, {&left, &right});
  return wrapTensor(info.Env(), GatedCell<TreeLstmLayout>::apply(gates, left, right));
}

// lstmCell(gates R x 4H, prevCell R x H) -> [h | c] (R x 2H)
Napi::Value lstmCell(const Napi::CallbackInfo& info) {
  expectArgs(info, 2);
  at::Tensor& gates = argTensor(info, 0);
  at::Tensor& prev = argTensor(info, 1);
  checkCell(gates, 4, {&prev});
  return wrapTensor(info.Env(), GatedCell<LstmLayout>::apply(gates, prev));
}

// The arguments of an in-memory cell: (token, memory, gradMemory, gates, prevRows..., outRows),
// with one Int32Array of rows per previous cell, each as many as the gates' rows.
template <typename L>
Napi::Value cellInMemory(const Napi::CallbackInfo& info) {
  expectArgs(info, 5 + L::prev);
  at::Tensor token = argTensor(info, 0);
  CellRows rows{argTensor(info, 1), argTensor(info, 2), {}, at::Tensor()};
  at::Tensor& gates = argTensor(info, 3);
  checkCell(gates, L::gates, {});
  const int64_t R = gates.size(0), H = gates.size(1) / L::gates, limit = rows.memory.size(0);
  TORCH_CHECK(rows.memory.dim() == 2 && rows.memory.size(1) == 2 * H, L::name, ": the memory must be 2H = ", 2 * H,
              " wide ([h | c] rows), got ", rows.memory.sizes());
  TORCH_CHECK(rows.memory.scalar_type() == gates.scalar_type() && rows.memory.device() == gates.device(), L::name,
              ": the memory must have the gates' dtype and device");
  auto index = [&](size_t i) {
    at::Tensor host = hostRowIndex(info, i, limit);
    TORCH_CHECK(host.numel() == R, L::name, ": argument ", i + 1, " has ", host.numel(), " rows for ", R, " cells");
    return onDeviceOf(host, rows.memory);
  };
  for (size_t j = 0; j < L::prev; j++) rows.prev.push_back(index(4 + j));
  rows.out = index(4 + L::prev);
  if (!at::GradMode::is_enabled() && fastPath(gates) && rows.memory.is_contiguous()) {
    std::array<const int64_t*, L::prev> prevRows;
    for (size_t j = 0; j < L::prev; j++) prevRows[j] = rows.prev[j].data_ptr<int64_t>();
    AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), L::name, [&] {
      cellInMemoryNoGrad<L, scalar_t>(gates, rows.memory, prevRows, rows.out.data_ptr<int64_t>(), R, H);
    });
    return info.Env().Undefined();  // nothing to order without a backward pass: the token stays
  }
  return advanceToken(info, 0, GatedCellInMemory<L>::apply(token, gates, rows));
}

}  // namespace

const EntryTable cellEntryPoints = {
    {"treeLstmCell", treeLstmCell},
    {"lstmCell", lstmCell},
    // treeLstmCellInMemory(token, memory, gradMemory, gates R x 5H, leftRows, rightRows, outRows), and
    // lstmCellInMemory(token, memory, gradMemory, gates R x 4H, prevRows, outRows): the token handle
    // then holds the next token (advanceToken), as after stateWrite
    {"treeLstmCellInMemory", cellInMemory<TreeLstmLayout>},
    {"lstmCellInMemory", cellInMemory<LstmLayout>},
};

}  // namespace spinn
