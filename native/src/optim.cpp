// Optimizer steps and gradient clipping, one native call per step over all parameters.
// The maths follow PyTorch's torch.optim (SGD, Adam, RMSprop with L2 weight decay added to the
// gradient); the state tensors are owned by TypeScript so checkpoints can save them by name.
#include <cmath>

#include "common.h"

namespace spinn {
namespace {

// One tensor of optimizer state per parameter (a list at argument i); checked only when the
// step uses that state (SGD without momentum passes an empty list).
std::vector<at::Tensor> argStateList(const Napi::CallbackInfo& info, size_t i, const std::vector<at::Tensor>& params,
                                     bool used, const char* step) {
  auto state = argTensorList(info, i);
  if (used && state.size() != params.size())
    throw Napi::RangeError::New(info.Env(), std::string(step) + ": expected one state tensor per parameter");
  return state;
}

// The loop every step shares: without autograd recording, for each parameter that has a
// gradient, update(k, g) with g its gradient plus L2 weight decay (PyTorch folds the decay into
// the gradient the same way); parameters without a gradient are left as they are.
template <typename Update>
void forEachGradient(const std::vector<at::Tensor>& params, double weightDecay, Update&& update) {
  at::NoGradGuard noGrad;
  for (size_t k = 0; k < params.size(); k++) {
    at::Tensor g = params[k].grad();
    if (!g.defined()) continue;
    if (weightDecay != 0) g = g.add(params[k], weightDecay);
    update(k, g);
  }
}

// sgdStep(params, momentumBuffers, step, lr, momentum, dampening, weightDecay, nesterov)
Napi::Value sgdStep(const Napi::CallbackInfo& info) {
  expectArgs(info, 8);
  auto params = argTensorList(info, 0);
  int64_t step = argInt(info, 2);
  double lr = argDouble(info, 3), momentum = argDouble(info, 4), dampening = argDouble(info, 5);
  bool nesterov = argBool(info, 7);
  auto bufs = argStateList(info, 1, params, momentum != 0, "sgdStep");
  forEachGradient(params, argDouble(info, 6), [&](size_t k, at::Tensor g) {
    if (momentum != 0) {
      if (step == 1) bufs[k].copy_(g);
      else bufs[k].mul_(momentum).add_(g, 1 - dampening);
      g = nesterov ? g.add(bufs[k], momentum) : bufs[k];
    }
    params[k].add_(g, -lr);
  });
  return info.Env().Undefined();
}

// adamStep(params, expAvg, expAvgSq, step, lr, beta1, beta2, eps, weightDecay)
Napi::Value adamStep(const Napi::CallbackInfo& info) {
  expectArgs(info, 9);
  auto params = argTensorList(info, 0);
  auto m = argStateList(info, 1, params, true, "adamStep");
  auto v = argStateList(info, 2, params, true, "adamStep");
  int64_t step = argInt(info, 3);
  double lr = argDouble(info, 4), b1 = argDouble(info, 5), b2 = argDouble(info, 6), eps = argDouble(info, 7);
  if (step < 1) throw Napi::RangeError::New(info.Env(), "adamStep: step counts from 1");
  double bias1 = 1 - std::pow(b1, static_cast<double>(step));
  double bias2Sqrt = std::sqrt(1 - std::pow(b2, static_cast<double>(step)));
  forEachGradient(params, argDouble(info, 8), [&](size_t k, const at::Tensor& g) {
    m[k].mul_(b1).add_(g, 1 - b1);
    v[k].mul_(b2).addcmul_(g, g, 1 - b2);
    at::Tensor denom = v[k].sqrt().div_(bias2Sqrt).add_(eps);
    params[k].addcdiv_(m[k], denom, -lr / bias1);
  });
  return info.Env().Undefined();
}

// rmspropStep(params, squareAvg, momentumBuffers, lr, alpha, eps, weightDecay, momentum)
Napi::Value rmspropStep(const Napi::CallbackInfo& info) {
  expectArgs(info, 8);
  auto params = argTensorList(info, 0);
  double lr = argDouble(info, 3), alpha = argDouble(info, 4), eps = argDouble(info, 5);
  double momentum = argDouble(info, 7);
  auto sq = argStateList(info, 1, params, true, "rmspropStep");
  auto bufs = argStateList(info, 2, params, momentum != 0, "rmspropStep");
  forEachGradient(params, argDouble(info, 6), [&](size_t k, const at::Tensor& g) {
    sq[k].mul_(alpha).addcmul_(g, g, 1 - alpha);
    at::Tensor avg = sq[k].sqrt().add_(eps);
    if (momentum != 0) {
      bufs[k].mul_(momentum).addcdiv_(g, avg);
      params[k].add_(bufs[k], -lr);
    } else {
      params[k].addcdiv_(g, avg, -lr);
    }
  });
  return info.Env().Undefined();
}

// clipGradNorm(params, maxNorm): scales all gradients so their global L2 norm is at most
// maxNorm (as torch.nn.utils.clip_grad_norm_); returns the norm before clipping.
Napi::Value clipGradNorm(const Napi::CallbackInfo& info) {
  expectArgs(info, 2);
  auto params = argTensorList(info, 0);
  double maxNorm = argDouble(info, 1);
  at::NoGradGuard noGrad;
  std::vector<at::Tensor> norms;
  for (auto& p : params)
    if (p.grad().defined()) norms.push_back(p.grad().norm().to(at::kDouble));
  if (norms.empty()) return Napi::Number::New(info.Env(), 0);
  double total = at::stack(norms).norm().item<double>();
  double coef = maxNorm / (total + 1e-6);
  if (coef < 1)
    for (auto& p : params)
      if (p.grad().defined()) p.mutable_grad().mul_(coef);
  return Napi::Number::New(info.Env(), total);
}

}  // namespace

const EntryTable optimEntryPoints = {
    {"sgdStep", sgdStep},
    {"adamStep", adamStep},
    {"rmspropStep", rmspropStep},
    {"clipGradNorm", clipGradNorm},
};

}  // namespace spinn
