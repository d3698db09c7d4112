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

#include "common.h"

namespace spinn {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// ---- TreeLSTM -------------------------------------------------------------------------------

at::Tensor treeForwardAten(const at::Tensor& g, const at::Tensor& cl, const at::Tensor& cr) {
  auto parts = g.chunk(5, 1);
  at::Tensor c = parts[0].tanh() * parts[1].sigmoid() + parts[2].sigmoid() * cl + parts[3].sigmoid() * cr;
  return at::cat({parts[4].sigmoid() * c.tanh(), c}, 1);
}

// Returns [dGates, dLeftCell, dRightCell].
std::vector<at::Tensor> treeBackwardAten(const at::Tensor& g, const at::Tensor& cl, const at::Tensor& cr,
                                         const at::Tensor& c, const at::Tensor& dout, int64_t H) {
  auto p = g.chunk(5, 1);
  at::Tensor a = p[0].tanh(), i = p[1].sigmoid(), f1 = p[2].sigmoid(), f2 = p[3].sigmoid(), o = p[4].sigmoid();
  at::Tensor tc = c.tanh();
  at::Tensor dh = dout.narrow(1, 0, H), dcOut = dout.narrow(1, H, H);
  at::Tensor dc = dcOut + dh * o * (1 - tc * tc);
  at::Tensor dg = at::cat({dc * i * (1 - a * a), dc * a * i * (1 - i), dc * cl * f1 * (1 - f1),
                           dc * cr * f2 * (1 - f2), dh * tc * o * (1 - o)},
                          1);
  return {dg, dc * f1, dc * f2};
}

// The CPU path: the transcendental functions run vectorised over whole blocks (ATen's tanh_ and
// sigmoid_), the combinations in one plain loop; the backward reuses the saved activations, so
// it evaluates no transcendental function at all.
//   act: the activated gates [tanh a, sig i, sig f1, sig f2, sig o]; tc: tanh(c).
template <typename T>
void treeCombineCpu(const at::Tensor& act, const at::Tensor& cl, const at::Tensor& cr, at::Tensor& out, int64_t H) {
  const int64_t R = act.size(0);
  const T* A = act.data_ptr<T>();
  const T* L = cl.data_ptr<T>();
  const T* Rt = cr.data_ptr<T>();
  T* O = out.data_ptr<T>();
  const int64_t ls = cl.stride(0), rs = cr.stride(0);
  for (int64_t r = 0; r < R; r++) {
    const T* ar = A + r * 5 * H;
    const T* lr = L + r * ls;
    const T* rr = Rt + r * rs;
    T* c = O + r * 2 * H + H;
    for (int64_t k = 0; k < H; k++) c[k] = ar[k] * ar[H + k] + ar[2 * H + k] * lr[k] + ar[3 * H + k] * rr[k];
  }
}

template <typename T>
void treeBackwardCpu(const at::Tensor& act, const at::Tensor& tc, const at::Tensor& cl, const at::Tensor& cr,
                     const at::Tensor& dout, at::Tensor& dg, at::Tensor& dl, at::Tensor& dr, int64_t H) {
  const int64_t R = act.size(0);
  const T* A = act.data_ptr<T>();
  const T* TC = tc.data_ptr<T>();
  const T* L = cl.data_ptr<T>();
  const T* Rt = cr.data_ptr<T>();
  const T* D = dout.data_ptr<T>();
  T* DG = dg.data_ptr<T>();
  T* DL = dl.data_ptr<T>();
  T* DR = dr.data_ptr<T>();
  const int64_t ls = cl.stride(0), rs = cr.stride(0);
  for (int64_t r = 0; r < R; r++) {
    const T* ar = A + r * 5 * H;
    const T* dr_ = D + r * 2 * H;
    const T* tcr = TC + r * H;
    T* dgr = DG + r * 5 * H;
    for (int64_t k = 0; k < H; k++) {
      T a = ar[k], i = ar[H + k], f1 = ar[2 * H + k], f2 = ar[3 * H + k], o = ar[4 * H + k];
      T t = tcr[k];
      T dh = dr_[k];
      T dc = dr_[H + k] + dh * o * (T(1) - t * t);
      dgr[k] = dc * i * (T(1) - a * a);
      dgr[H + k] = dc * a * i * (T(1) - i);
      dgr[2 * H + k] = dc * L[r * ls + k] * f1 * (T(1) - f1);
      dgr[3 * H + k] = dc * Rt[r * rs + k] * f2 * (T(1) - f2);
      dgr[4 * H + k] = dh * t * o * (T(1) - o);
      DL[r * H + k] = dc * f1;
      DR[r * H + k] = dc * f2;
    }
  }
}

bool fastPath(const at::Tensor& t) {
  return t.is_cpu() && (t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble);
}

struct TreeLstmCell : public torch::autograd::Function<TreeLstmCell> {
  // leftCell / rightCell: R x H views (row stride may be 2H) of the children's cells.
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& gates, const at::Tensor& leftCell,
                            const at::Tensor& rightCell) {
    const int64_t H = gates.size(1) / 5;
    if (!fastPath(gates)) {
      at::Tensor out = treeForwardAten(gates, leftCell, rightCell);
      ctx->saved_data["fast"] = false;
      ctx->save_for_backward({gates, leftCell, rightCell, out});
      return out;
    }
    // The loops need unit stride along a row; a narrowed [h | c] row has it.
    at::Tensor cl = leftCell.stride(1) == 1 ? leftCell : leftCell.contiguous();
    at::Tensor cr = rightCell.stride(1) == 1 ? rightCell : rightCell.contiguous();
    at::Tensor act = gates.contiguous().clone();
    act.narrow(1, 0, H).tanh_();
    act.narrow(1, H, 4 * H).sigmoid_();
    at::Tensor out = at::empty({gates.size(0), 2 * H}, gates.options());
    AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), "treeLstmCell", [&] { treeCombineCpu<scalar_t>(act, cl, cr, out, H); });
    at::Tensor tc = out.narrow(1, H, H).tanh();
    at::Tensor h = out.narrow(1, 0, H);
    at::mul_out(h, act.narrow(1, 4 * H, H), tc);
    ctx->saved_data["fast"] = true;
    ctx->save_for_backward({act, tc, cl, cr});
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    if (ctx->saved_data["fast"].toBool()) {  // saved {act, tc, cl, cr}
      const at::Tensor &act = saved[0], &tc = saved[1], &cl = saved[2], &cr = saved[3];
      const int64_t H = tc.size(1);
      at::Tensor dout = grads[0].defined() ? grads[0].contiguous() : at::zeros({act.size(0), 2 * H}, act.options());
      at::Tensor dg = at::empty_like(act), dl = at::empty({act.size(0), H}, act.options()), dr = at::empty_like(dl);
      AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), "treeLstmCellBackward",
                                 [&] { treeBackwardCpu<scalar_t>(act, tc, cl, cr, dout, dg, dl, dr, H); });
      return {dg, dl, dr};
    }
    const at::Tensor &g = saved[0], &cl = saved[1], &cr = saved[2], &out = saved[3];
    const int64_t H = g.size(1) / 5;
    at::Tensor dout = grads[0].defined() ? grads[0] : at::zeros_like(out);
    auto d = treeBackwardAten(g, cl, cr, out.narrow(1, H, H), dout, H);
    return {d[0], d[1], d[2]};
  }
};

// ---- LSTM -----------------------------------------------------------------------------------

// act: the activated gates [sig i, sig f, tanh g, sig o]; tc: tanh(c). As for the TreeLSTM.
template <typename T>
void lstmCombineCpu(const at::Tensor& act, const at::Tensor& c0, at::Tensor& out, int64_t H) {
  const int64_t R = act.size(0);
  const T* A = act.data_ptr<T>();
  const T* C = c0.data_ptr<T>();
  T* O = out.data_ptr<T>();
  const int64_t cs = c0.stride(0);
  for (int64_t r = 0; r < R; r++) {
    const T* ar = A + r * 4 * H;
    const T* cr = C + r * cs;
    T* c = O + r * 2 * H + H;
    for (int64_t k = 0; k < H; k++) c[k] = ar[H + k] * cr[k] + ar[k] * ar[2 * H + k];
  }
}

template <typename T>
void lstmBackwardCpu(const at::Tensor& act, const at::Tensor& tc, const at::Tensor& c0, const at::Tensor& dout,
                     at::Tensor& dg, at::Tensor& dc0, int64_t H) {
  const int64_t R = act.size(0);
  const T* A = act.data_ptr<T>();
  const T* TC = tc.data_ptr<T>();
  const T* C = c0.data_ptr<T>();
  const T* D = dout.data_ptr<T>();
  T* DG = dg.data_ptr<T>();
  T* DC = dc0.data_ptr<T>();
  const int64_t cs = c0.stride(0);
  for (int64_t r = 0; r < R; r++) {
    const T* ar = A + r * 4 * H;
    const T* dr = D + r * 2 * H;
    const T* tcr = TC + r * H;
    T* dgr = DG + r * 4 * H;
    for (int64_t k = 0; k < H; k++) {
      T i = ar[k], f = ar[H + k], gg = ar[2 * H + k], o = ar[3 * H + k];
      T t = tcr[k];
      T dh = dr[k];
      T dc = dr[H + k] + dh * o * (T(1) - t * t);
      dgr[k] = dc * gg * i * (T(1) - i);
      dgr[H + k] = dc * C[r * cs + k] * f * (T(1) - f);
      dgr[2 * H + k] = dc * i * (T(1) - gg * gg);
      dgr[3 * H + k] = dh * t * o * (T(1) - o);
      DC[r * H + k] = dc * f;
    }
  }
}

struct LstmCell : public torch::autograd::Function<LstmCell> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& gates, const at::Tensor& prevCell) {
    const int64_t H = gates.size(1) / 4;
    if (!fastPath(gates)) {
      auto p = gates.chunk(4, 1);
      at::Tensor c = p[1].sigmoid() * prevCell + p[0].sigmoid() * p[2].tanh();
      at::Tensor out = at::cat({p[3].sigmoid() * c.tanh(), c}, 1);
      ctx->saved_data["fast"] = false;
      ctx->save_for_backward({gates, prevCell, out});
      return out;
    }
    at::Tensor c0 = prevCell.stride(1) == 1 ? prevCell : prevCell.contiguous();
    at::Tensor act = gates.contiguous().clone();
    act.narrow(1, 0, 2 * H).sigmoid_();
    act.narrow(1, 2 * H, H).tanh_();
    act.narrow(1, 3 * H, H).sigmoid_();
    at::Tensor out = at::empty({gates.size(0), 2 * H}, gates.options());
    AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), "lstmCell", [&] { lstmCombineCpu<scalar_t>(act, c0, out, H); });
    at::Tensor tc = out.narrow(1, H, H).tanh();
    at::Tensor h = out.narrow(1, 0, H);
    at::mul_out(h, act.narrow(1, 3 * H, H), tc);
    ctx->saved_data["fast"] = true;
    ctx->save_for_backward({act, tc, c0});
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    if (ctx->saved_data["fast"].toBool()) {  // saved {act, tc, c0}
      const at::Tensor &act = saved[0], &tc = saved[1], &c0 = saved[2];
      const int64_t H = tc.size(1);
      at::Tensor dout = grads[0].defined() ? grads[0].contiguous() : at::zeros({act.size(0), 2 * H}, act.options());
      at::Tensor dg = at::empty_like(act), dc0 = at::empty({act.size(0), H}, act.options());
      AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), "lstmCellBackward",
                                 [&] { lstmBackwardCpu<scalar_t>(act, tc, c0, dout, dg, dc0, H); });
      return {dg, dc0};
    }
    const at::Tensor &g = saved[0], &c0 = saved[1], &out = saved[2];
    const int64_t H = g.size(1) / 4;
    at::Tensor dout = grads[0].defined() ? grads[0] : at::zeros_like(out);
    auto p = g.chunk(4, 1);
    at::Tensor i = p[0].sigmoid(), f = p[1].sigmoid(), gg = p[2].tanh(), o = p[3].sigmoid();
    at::Tensor tc = out.narrow(1, H, H).tanh();
    at::Tensor dh = dout.narrow(1, 0, H);
    at::Tensor dc = dout.narrow(1, H, H) + dh * o * (1 - tc * tc);
    at::Tensor dg = at::cat({dc * gg * i * (1 - i), dc * c0 * f * (1 - f), dc * i * (1 - gg * gg), dh * tc * o * (1 - o)}, 1);
    return {dg, dc * f};
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

// treeLstmCell(gates R x 5H, leftCell R x H, rightCell R x H) -> [h | c] (R x 2H)
Napi::Value treeLstmCell(const Napi::CallbackInfo& info) {
  expectArgs(info, 3);
  at::Tensor& gates = argTensor(info, 0);
  at::Tensor& left = argTensor(info, 1);
  at::Tensor& right = argTensor(info, 2);
  checkCell(gates, 5, {&left, &right});
  return wrapTensor(info.Env(), TreeLstmCell::apply(gates, left, right));
}

// lstmCell(gates R x 4H, prevCell R x H) -> [h | c] (R x 2H)
Napi::Value lstmCell(const Napi::CallbackInfo& info) {
  expectArgs(info, 2);
  at::Tensor& gates = argTensor(info, 0);
  at::Tensor& prev = argTensor(info, 1);
  checkCell(gates, 4, {&prev});
  return wrapTensor(info.Env(), LstmCell::apply(gates, prev));
}

}  // namespace

const EntryTable cellEntryPoints = {
    {"treeLstmCell", treeLstmCell},
    {"lstmCell", lstmCell},
};

}  // namespace spinn
