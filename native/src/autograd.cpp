// Autograd: requires_grad, backward, gradients, grad mode.
#include "common.h"

namespace spinn {
namespace {

Napi::Value setRequiresGrad(const Napi::CallbackInfo& info) {
  return guard(info, "setRequiresGrad", [&]() -> Napi::Value {
    expectArgs(info, 2);
    argTensor(info, 0).set_requires_grad(argBool(info, 1));
    return info.Env().Undefined();
  });
}

Napi::Value requiresGrad(const Napi::CallbackInfo& info) {
  return guard(info, "requiresGrad", [&]() -> Napi::Value {
    expectArgs(info, 1);
    return Napi::Boolean::New(info.Env(), argTensor(info, 0).requires_grad());
  });
}

Napi::Value isLeaf(const Napi::CallbackInfo& info) {
  return guard(info, "isLeaf", [&]() -> Napi::Value {
    expectArgs(info, 1);
    return Napi::Boolean::New(info.Env(), argTensor(info, 0).is_leaf());
  });
}

// The accumulated gradient, or null when none has been computed.
Napi::Value grad(const Napi::CallbackInfo& info) {
  return guard(info, "grad", [&]() -> Napi::Value {
    expectArgs(info, 1);
    return wrapTensor(info.Env(), argTensor(info, 0).grad());
  });
}

// Drops the gradient (as PyTorch's zero_grad(set_to_none=True)): the next backward writes afresh.
Napi::Value clearGrad(const Napi::CallbackInfo& info) {
  return guard(info, "clearGrad", [&]() -> Napi::Value {
    expectArgs(info, 1);
    argTensor(info, 0).mutable_grad().reset();
    return info.Env().Undefined();
  });
}

// backward(t, grad | null, retainGraph): grad is required when t is not a scalar.
Napi::Value backward(const Napi::CallbackInfo& info) {
  return guard(info, "backward", [&]() -> Napi::Value {
    expectArgs(info, 3);
    at::Tensor& t = argTensor(info, 0);
    at::Tensor g = argOptionalTensor(info, 1);
    bool retain = argBool(info, 2);
    t.backward(g, retain, false);
    return info.Env().Undefined();
  });
}

Napi::Value setGradEnabled(const Napi::CallbackInfo& info) {
  return guard(info, "setGradEnabled", [&]() -> Napi::Value {
    expectArgs(info, 1);
    bool previous = at::GradMode::is_enabled();
    at::GradMode::set_enabled(argBool(info, 0));
    return Napi::Boolean::New(info.Env(), previous);
  });
}

Napi::Value isGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

}  // namespace

void registerAutograd(Napi::Env env, Napi::Object exports) {
  exports.Set("setRequiresGrad", Napi::Function::New(env, setRequiresGrad, "setRequiresGrad"));
  exports.Set("requiresGrad", Napi::Function::New(env, requiresGrad, "requiresGrad"));
  exports.Set("isLeaf", Napi::Function::New(env, isLeaf, "isLeaf"));
  exports.Set("grad", Napi::Function::New(env, grad, "grad"));
  exports.Set("clearGrad", Napi::Function::New(env, clearGrad, "clearGrad"));
  exports.Set("backward", Napi::Function::New(env, backward, "backward"));
  exports.Set("setGradEnabled", Napi::Function::New(env, setGradEnabled, "setGradEnabled"));
  exports.Set("isGradEnabled", Napi::Function::New(env, isGradEnabled, "isGradEnabled"));
}

}  // namespace spinn
