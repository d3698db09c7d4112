// Shared plumbing of the libtorch shim: tensor handles, argument conversion and the one error
// wrapper every entry point goes through. No model logic lives in native code.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace spinn {

// A JS tensor handle is a type-tagged Napi::External pointing at one TensorBox. The box owns one
// reference to the at::Tensor (a refcount bump, never a data copy). dispose() releases the
// tensor at once; the box itself is deleted by the External's finalizer when JS drops it.
struct TensorBox {
  at::Tensor tensor;
};

// Per-environment state: the TorchError constructor handed over by TypeScript at init.
struct Addon {
  Napi::FunctionReference torchError;
};

// Dtype codes shared with TypeScript (src/engine/dtype.ts).
enum DtypeCode : int { kFloat32 = 0, kFloat64 = 1, kInt64 = 2, kBool = 3 };
at::ScalarType scalarType(int code);
int dtypeCode(at::ScalarType t);

// Device codes shared with TypeScript: -1 is the CPU, n >= 0 is CUDA device n.
at::Device device(int64_t code);
int64_t deviceCode(const at::Device& d);

// Throws a JS TorchError carrying the op name and libtorch's message.
[[noreturn]] void throwTorchError(Napi::Env env, const char* op, const std::string& message);

// Runs an entry point's body, turning every C++ exception into a JS exception: nothing thrown
// by libtorch may cross into V8 as a C++ exception or abort the process.
template <typename F>
Napi::Value guard(const Napi::CallbackInfo& info, const char* op, F&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throwTorchError(info.Env(), op, e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    throwTorchError(info.Env(), op, "out of memory");
  } catch (const std::exception& e) {
    throwTorchError(info.Env(), op, e.what());
  } catch (...) {
    throwTorchError(info.Env(), op, "unknown native error");
  }
}

void expectArgs(const Napi::CallbackInfo& info, size_t n);
at::Tensor& argTensor(const Napi::CallbackInfo& info, size_t i);
at::Tensor argOptionalTensor(const Napi::CallbackInfo& info, size_t i);
std::vector<at::Tensor> argTensorList(const Napi::CallbackInfo& info, size_t i);
int64_t argInt(const Napi::CallbackInfo& info, size_t i);
std::vector<int64_t> argIntList(const Napi::CallbackInfo& info, size_t i);
double argDouble(const Napi::CallbackInfo& info, size_t i);
at::Scalar argScalar(const Napi::CallbackInfo& info, size_t i);
bool argBool(const Napi::CallbackInfo& info, size_t i);
at::ScalarType argDtype(const Napi::CallbackInfo& info, size_t i);
TensorBox* argBox(const Napi::CallbackInfo& info, size_t i);

Napi::Value wrapTensor(Napi::Env env, at::Tensor t);
Napi::Value wrapTensorList(Napi::Env env, const std::vector<at::Tensor>& ts);
Napi::Value wrapDouble(Napi::Env env, double v);

// Small helpers used by op-table expressions.
inline std::vector<at::Tensor> pair(const std::tuple<at::Tensor, at::Tensor>& t) {
  return {std::get<0>(t), std::get<1>(t)};
}
int64_t reduction(int64_t code);
// dst.copy_(src) without recording autograd history (loading weights, resetting state).
at::Tensor copyInto(at::Tensor& dst, const at::Tensor& src);

// SPINN_GENERIC_KERNELS=1 (read once): the fused ops (the cells, the state memory's gathers) take
// on the CPU too the ATen path they take on other devices, so that the tests can check that path
// where there is no GPU. Off by default; runtimeInfo reports it.
bool genericKernels();

// linear(x, W, b) = x·Wᵀ + b (b may be undefined): at::linear, or for float32 CPU products
// without gradients at small row counts a kernel over a packed copy of W (packed_linear.cpp).
at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);
// Whether that kernel can run here (AVX2 and FMA; not turned off); runtimeInfo reports it.
bool packedLinearAvailable();
// The OpenBLAS thread count, as setBlasThreads last set it (the packed kernel runs one thread).
void noteBlasThreads(int n);

// The CPU tensors' allocator (cpu_allocator.cpp): "mimalloc" or "system" (libtorch's default,
// glibc's malloc), and a release of both allocators' free pages to the OS.
const char* cpuAllocatorName();
bool releaseFreeAllocatorMemory(bool betweenBatches);
// The large-block range's bytes in use, free below its top, and up to its top (large_blocks.h;
// zeros when tensors do not come from it).
void largeBlockBytes(size_t& used, size_t& free, size_t& top);

// Live-handle bookkeeping for the memory report.
void trackBox(TensorBox* box);
void untrackBox(TensorBox* box);

// The entry-point table. Every native function JavaScript can call is one row {name, body} in
// one file's table; handles.cpp's Init registers every table, so a function's name is written
// once in C++ and nothing is exported by a hand-written call. Each body runs inside guard() with
// the row's name as the op name (the registration does it, the bodies need not). The TypeScript
// side lists the same names (src/engine/native.ts) and a test checks the two agree.
struct EntryPoint {
  const char* name;
  Napi::Value (*body)(const Napi::CallbackInfo& info);
};
// A vector is fine for a table: Init reads the tables only after every static initializer of the
// addon ran (on dlopen), and never changes them, so each row's address is stable callback data.
using EntryTable = std::vector<EntryPoint>;

// One table per source file.
extern const EntryTable handleEntryPoints;     // handles.cpp
extern const EntryTable generatedEntryPoints;  // ops_generated.cpp (scripts/gen-ops.mjs)
extern const EntryTable coreEntryPoints;       // core.cpp
extern const EntryTable autogradEntryPoints;   // autograd.cpp
extern const EntryTable optimEntryPoints;      // optim.cpp
extern const EntryTable stateMemoryEntryPoints;    // state_memory.cpp
extern const EntryTable batchedLinearEntryPoints;  // batched_linear.cpp
extern const EntryTable cellEntryPoints;       // cells.cpp
extern const EntryTable dropoutEntryPoints;    // dropout.cpp
extern const EntryTable distributedEntryPoints;  // distributed.cpp

}  // namespace spinn
