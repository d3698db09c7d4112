// Hand-written core: tensors from and to JS typed arrays, factories, seeded randomness,
// metadata, threads and devices.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "common.h"

namespace spinn {
namespace {

struct HostView {
  void* data;
  size_t length;
  at::ScalarType type;
};

// The element type of a typed array, as libtorch names it.
HostView viewOf(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(env, std::string(what) + ": expected a typed array");
  auto ta = v.As<Napi::TypedArray>();
  at::ScalarType type;
  switch (ta.TypedArrayType()) {
    case napi_float32_array: type = at::kFloat; break;
    case napi_float64_array: type = at::kDouble; break;
    case napi_int32_array: type = at::kInt; break;
    case napi_bigint64_array: type = at::kLong; break;
    case napi_uint8_array: type = at::kByte; break;
    default:
      throw Napi::TypeError::New(env, std::string(what) +
                                          ": supported typed arrays are Float32Array, Float64Array, "
                                          "Int32Array, BigInt64Array and Uint8Array");
  }
  auto* base = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  return {base, ta.ElementLength(), type};
}

int64_t numelOf(Napi::Env env, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Napi::RangeError::New(env, "shape entries must be non-negative");
    if (d != 0 && n > (int64_t(1) << 48) / d) throw Napi::RangeError::New(env, "shape is too large");
    n *= d;
  }
  return n;
}

at::TensorOptions optionsFrom(const Napi::CallbackInfo& info, size_t dtypeArg) {
  return at::TensorOptions().dtype(argDtype(info, dtypeArg)).device(device(argInt(info, dtypeArg + 1)));
}

// fromData(data: TypedArray | number[] | boolean[], shape, dtype, device)
Napi::Value fromData(const Napi::CallbackInfo& info) {
  expectArgs(info, 4);
  Napi::Env env = info.Env();
  auto shape = argIntList(info, 1);
  int64_t n = numelOf(env, shape);
  at::ScalarType dtype = argDtype(info, 2);
  at::Device dev = device(argInt(info, 3));
  at::Tensor host;
  if (info[0].IsArray()) {
    Napi::Array arr = info[0].As<Napi::Array>();
    if (static_cast<int64_t>(arr.Length()) != n)
      throw Napi::RangeError::New(env, "data has " + std::to_string(arr.Length()) + " elements but shape needs " +
                                           std::to_string(n));
    host = at::empty({n}, at::kDouble);
    double* p = host.data_ptr<double>();
    for (uint32_t k = 0; k < arr.Length(); k++) {
      Napi::Value e = arr[k];
      if (e.IsNumber()) p[k] = e.As<Napi::Number>().DoubleValue();
      else if (e.IsBoolean()) p[k] = e.As<Napi::Boolean>().Value() ? 1.0 : 0.0;
      else throw Napi::TypeError::New(env, "data[" + std::to_string(k) + "]: expected a number or boolean");
    }
    host = host.to(dtype).reshape(shape);
  } else {
    HostView view = viewOf(env, info[0], "data");
    if (static_cast<int64_t>(view.length) != n)
      throw Napi::RangeError::New(env, "data has " + std::to_string(view.length) + " elements but shape needs " +
                                           std::to_string(n));
    at::Tensor borrowed = at::from_blob(view.data, shape, at::TensorOptions().dtype(view.type));
    // from_blob borrows JS memory: always take a copy that libtorch owns.
    host = view.type == dtype ? borrowed.clone() : borrowed.to(dtype);
  }
  return wrapTensor(env, dev.is_cpu() ? host : host.to(dev));
}

// toData(t): a new typed array of the tensor's own element type.
Napi::Value toData(const Napi::CallbackInfo& info) {
  expectArgs(info, 1);
  Napi::Env env = info.Env();
  at::Tensor t = argTensor(info, 0).detach().to(at::kCPU).contiguous();
  size_t n = static_cast<size_t>(t.numel());
  auto bytes = Napi::ArrayBuffer::New(env, t.nbytes());
  if (n) std::memcpy(bytes.Data(), t.data_ptr(), t.nbytes());
  switch (t.scalar_type()) {
    case at::kFloat: return Napi::Float32Array::New(env, n, bytes, 0);
    case at::kDouble: return Napi::Float64Array::New(env, n, bytes, 0);
    case at::kLong: return Napi::BigInt64Array::New(env, n, bytes, 0);
    case at::kBool: return Napi::Uint8Array::New(env, n, bytes, 0);
    default: throw std::invalid_argument(std::string("cannot read dtype ") + c10::toString(t.scalar_type()));
  }
}

// copyToArray(t, out): converts to out's element type and fills it (lengths must match).
Napi::Value copyToArray(const Napi::CallbackInfo& info) {
  expectArgs(info, 2);
  Napi::Env env = info.Env();
  at::Tensor& src = argTensor(info, 0);
  HostView view = viewOf(env, info[1], "out");
  if (static_cast<int64_t>(view.length) != src.numel())
    throw Napi::RangeError::New(env, "output array has " + std::to_string(view.length) +
                                         " elements but the tensor has " + std::to_string(src.numel()));
  at::Tensor t = src.detach().to(at::kCPU, view.type).contiguous();
  if (view.length) std::memcpy(view.data, t.data_ptr(), t.nbytes());
  return env.Undefined();
}

Napi::Value full(const Napi::CallbackInfo& info) {
  expectArgs(info, 4);
  auto shape = argIntList(info, 0);
  numelOf(info.Env(), shape);
  return wrapTensor(info.Env(), at::full(shape, argDouble(info, 1), optionsFrom(info, 2)));
}

Napi::Value arange(const Napi::CallbackInfo& info) {
  expectArgs(info, 5);
  return wrapTensor(info.Env(),
                    at::arange(argDouble(info, 0), argDouble(info, 1), argDouble(info, 2), optionsFrom(info, 3)));
}

Napi::Value randn(const Napi::CallbackInfo& info) {
  expectArgs(info, 3);
  auto shape = argIntList(info, 0);
  numelOf(info.Env(), shape);
  return wrapTensor(info.Env(), at::randn(shape, optionsFrom(info, 1)));
}

Napi::Value rand(const Napi::CallbackInfo& info) {
  expectArgs(info, 3);
  auto shape = argIntList(info, 0);
  numelOf(info.Env(), shape);
  return wrapTensor(info.Env(), at::rand(shape, optionsFrom(info, 1)));
}

Napi::Value manualSeed(const Napi::CallbackInfo& info) {
  expectArgs(info, 1);
  uint64_t seed = static_cast<uint64_t>(argInt(info, 0));
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  }
  if (torch::cuda::is_available()) {
    for (size_t d = 0; d < torch::cuda::device_count(); d++) {
      auto gen = at::globalContext().defaultGenerator(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(d)));
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_current_seed(seed);
    }
  }
  return info.Env().Undefined();
}

// The CPU generator's full state as bytes, so training can resume with the same dropout masks.
Napi::Value getRngState(const Napi::CallbackInfo& info) {
  auto gen = at::detail::getDefaultCPUGenerator();
  at::Tensor state;
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    state = gen.get_state();
  }
  auto out = Napi::Uint8Array::New(info.Env(), state.numel());
  std::memcpy(out.Data(), state.data_ptr(), state.numel());
  return out;
}

Napi::Value setRngState(const Napi::CallbackInfo& info) {
  expectArgs(info, 1);
  HostView view = viewOf(info.Env(), info[0], "state");
  if (view.type != at::kByte) throw Napi::TypeError::New(info.Env(), "state: expected a Uint8Array");
  at::Tensor state = at::from_blob(view.data, {static_cast<int64_t>(view.length)}, at::kByte).clone();
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
  return info.Env().Undefined();
}

Napi::Value shape(const Napi::CallbackInfo& info) {
  expectArgs(info, 1);
  auto sizes = argTensor(info, 0).sizes();
  Napi::Array out = Napi::Array::New(info.Env(), sizes.size());
  for (size_t k = 0; k < sizes.size(); k++) out.Set(static_cast<uint32_t>(k), static_cast<double>(sizes[k]));
  return out;
}

Napi::Value dtype(const Napi::CallbackInfo& info) {
  expectArgs(info, 1);
  return Napi::Number::New(info.Env(), dtypeCode(argTensor(info, 0).scalar_type()));
}

Napi::Value deviceOf(const Napi::CallbackInfo& info) {
  expectArgs(info, 1);
  return Napi::Number::New(info.Env(), static_cast<double>(deviceCode(argTensor(info, 0).device())));
}

Napi::Value setNumThreads(const Napi::CallbackInfo& info) {
  int64_t n = argInt(info, 0);
  if (n < 1) throw Napi::RangeError::New(info.Env(), "threads must be at least 1");
  at::set_num_threads(static_cast<int>(n));
  return info.Env().Undefined();
}

// OpenBLAS keeps its own thread pool beside libtorch's OpenMP one. It is reached by symbol
// lookup so the addon still loads with another BLAS (then this reports false).
Napi::Value setBlasThreads(const Napi::CallbackInfo& info) {
  int64_t n = argInt(info, 0);
  if (n < 1) throw Napi::RangeError::New(info.Env(), "threads must be at least 1");
  using SetThreads = void (*)(int);
  auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (set) set(static_cast<int>(n));
  noteBlasThreads(static_cast<int>(n));
  return Napi::Boolean::New(info.Env(), set != nullptr);
}

Napi::Value runtimeInfo(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("torchVersion", TORCH_VERSION);
  out.Set("threads", at::get_num_threads());
  using GetThreads = int (*)();
  auto get = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  out.Set("blasThreads", get ? Napi::Value(Napi::Number::New(info.Env(), get())) : info.Env().Null());
  bool cuda = torch::cuda::is_available();
  out.Set("cudaAvailable", cuda);
  out.Set("cudaDevices", cuda ? static_cast<double>(torch::cuda::device_count()) : 0.0);
  out.Set("parallelInfo", at::get_parallel_info());
  out.Set("genericKernels", genericKernels());
  out.Set("packedLinear", packedLinearAvailable());
  out.Set("cpuAllocator", cpuAllocatorName());
  return out;
}

Napi::Value cudaSynchronize(const Napi::CallbackInfo& info) {
  if (torch::cuda::is_available()) torch::cuda::synchronize();
  return info.Env().Undefined();
}

}  // namespace

bool genericKernels() {
  static const bool on = [] {
    const char* v = std::getenv("SPINN_GENERIC_KERNELS");
    return v != nullptr && std::strcmp(v, "1") == 0;
  }();
  return on;
}

const EntryTable coreEntryPoints = {
    {"fromData", fromData},
    {"toData", toData},
    {"copyToArray", copyToArray},
    {"full", full},
    {"arange", arange},
    {"randn", randn},
    {"rand", rand},
    {"manualSeed", manualSeed},
    {"getRngState", getRngState},
    {"setRngState", setRngState},
    {"shape", shape},
    {"dtype", dtype},
    {"device", deviceOf},
    {"setNumThreads", setNumThreads},
    {"setBlasThreads", setBlasThreads},
    {"runtimeInfo", runtimeInfo},
    {"cudaSynchronize", cudaSynchronize},
};

}  // namespace spinn
