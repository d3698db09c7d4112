// Autograd: requires_grad, backward, gradients, grad mode.
#include "common.h"

namespace spinn {
namespace {

Napi::Value setRequiresGrad(const Napi::CallbackInfo& info) {
  expectArgs(info, 2);
  argTensor(info, 0).set_requires_grad(argBool(info, 1));
  return info.Env().Undefined();
}

Napi::Value requiresGrad(const Napi::CallbackInfo& info) {
  expectArgs(info, 1);
  return Napi::Boolean::New(info.Env(), argTensor(info, 0).requires_grad());
}

Napi::Value isLeaf(const Napi::CallbackInfo& info) {
  expectArgs(info, 1);
  return Napi::Boolean::New(info.Env(), argTensor(info, 0).is_leaf());
}

// The accumulated gradient, or null when none has been computed.
Napi::Value grad(const Napi::CallbackInfo& info) {
  expectArgs(info, 1);
  return wrapTensor(info.Env(), argTensor(info, 0).grad());
}

// Drops the gradient (as PyTorch's zero_grad(set_to_none=True)): the next backward writes afresh.
Napi::Value clearGrad(const Napi::CallbackInfo& info) {
  expectArgs(info, 1);
  argTensor(info, 0).mutable_grad().reset();
  return info.Env().Undefined();
}

// backward(t, grad | null, retainGraph): grad is required when t is not a scalar.
Napi::Value backward(const Napi::CallbackInfo& info) {
  expectArgs(info, 3);
  at::Tensor& t = argTensor(info, 0);
  at::Tensor g = argOptionalTensor(info, 1);
  bool retain = argBool(info, 2);
  t.backward(g, retain, false);
  return info.Env().Undefined();
}

Napi::Value setGradEnabled(const Napi::CallbackInfo& info) {
  expectArgs(info, 1);
  bool previous = at::GradMode::is_enabled();
  at::GradMode::set_enabled(argBool(info, 0));
  return Napi::Boolean::New(info.Env(), previous);
}

Napi::Value isGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

}  // namespace

const EntryTable autogradEntryPoints = {
    {"setRequiresGrad", setRequiresGrad},
    {"requiresGrad", requiresGrad},
    {"isLeaf", isLeaf},
    {"grad", grad},
    {"clearGrad", clearGrad},
    {"backward", backward},
    {"setGradEnabled", setGradEnabled},
    {"isGradEnabled", isGradEnabled},
};

}  // namespace spinn
