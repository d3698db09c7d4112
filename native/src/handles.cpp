// Tensor handles, argument conversion, errors and the addon's entry point.
#include <malloc.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <mutex>
#include <unordered_set>

#include "common.h"

namespace spinn {

namespace {

// Distinguishes our Externals from any other addon's.
const napi_type_tag kTensorTag = {0x5350494e4e54454eULL, 0x736f7248616e646cULL};

// Every box whose tensor is still held, process-wide (worker threads share libtorch).
std::mutex liveMutex;
std::unordered_set<TensorBox*> liveBoxes;
// Handles (boxes) whose External the garbage collector has not yet finalized, disposed or not:
// each holds a little native memory (box, finalizer record, global handle) until then.
std::atomic<int64_t> handleCount{0};
// Tensors freed by a handle's finalizer because nobody disposed them (no dispose(), no scope):
// the safety net's catch, reported by memory() so that leaks show up.
std::atomic<int64_t> collectedCount{0};

Addon& addonOf(Napi::Env env) { return *env.GetInstanceData<Addon>(); }

std::string argName(size_t i) { return "argument " + std::to_string(i + 1); }

}  // namespace

at::ScalarType scalarType(int code) {
  switch (code) {
    case kFloat32: return at::kFloat;
    case kFloat64: return at::kDouble;
    case kInt64: return at::kLong;
    case kBool: return at::kBool;
  }
  throw std::invalid_argument("unknown dtype code " + std::to_string(code));
}

int dtypeCode(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return kFloat32;
    case at::kDouble: return kFloat64;
    case at::kLong: return kInt64;
    case at::kBool: return kBool;
    default: throw std::invalid_argument(std::string("unsupported dtype ") + c10::toString(t));
  }
}

at::Device device(int64_t code) {
  if (code < 0) return at::Device(at::kCPU);
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(code));
}

int64_t deviceCode(const at::Device& d) { return d.is_cuda() ? d.index() < 0 ? 0 : d.index() : -1; }

void throwTorchError(Napi::Env env, const char* op, const std::string& message) {
  Addon& addon = addonOf(env);
  // Every entry point now runs under guard(), init included: before init has handed over
  // TorchError there is no class to build, so the error is a plain one.
  if (addon.torchError.IsEmpty()) throw Napi::Error::New(env, std::string(op) + ": " + message);
  Napi::Object err = addon.torchError.New({Napi::String::New(env, message), Napi::String::New(env, op)});
  throw Napi::Error(env, err);
}

void expectArgs(const Napi::CallbackInfo& info, size_t n) {
  if (info.Length() < n)
    throw Napi::TypeError::New(info.Env(), "expected " + std::to_string(n) + " arguments, got " +
                                               std::to_string(info.Length()));
}

TensorBox* argBox(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = info[i];
  bool tagged = false;
  if (v.IsExternal()) napi_check_object_type_tag(info.Env(), v, &kTensorTag, &tagged);
  if (!tagged) throw Napi::TypeError::New(info.Env(), argName(i) + ": expected a tensor handle");
  return v.As<Napi::External<TensorBox>>().Data();
}

at::Tensor& argTensor(const Napi::CallbackInfo& info, size_t i) {
  TensorBox* box = argBox(info, i);
  if (!box->tensor.defined())
    throw Napi::Error::New(info.Env(), argName(i) + ": tensor was disposed and can no longer be used");
  return box->tensor;
}

at::Tensor argOptionalTensor(const Napi::CallbackInfo& info, size_t i) {
  if (info[i].IsNull() || info[i].IsUndefined()) return at::Tensor();
  return argTensor(info, i);
}

std::vector<at::Tensor> argTensorList(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsArray()) throw Napi::TypeError::New(info.Env(), argName(i) + ": expected an array of tensors");
  Napi::Array arr = info[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value v = arr[k];
    bool tagged = false;
    if (v.IsExternal()) napi_check_object_type_tag(info.Env(), v, &kTensorTag, &tagged);
    if (!tagged)
      throw Napi::TypeError::New(info.Env(), argName(i) + "[" + std::to_string(k) + "]: expected a tensor handle");
    TensorBox* box = v.As<Napi::External<TensorBox>>().Data();
    if (!box->tensor.defined())
      throw Napi::Error::New(info.Env(), argName(i) + "[" + std::to_string(k) + "]: tensor was disposed");
    out.push_back(box->tensor);
  }
  return out;
}

static int64_t toInt(Napi::Env env, Napi::Value v, const std::string& what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, what + ": expected an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9007199254740991.0)
    throw Napi::TypeError::New(env, what + ": expected an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

int64_t argInt(const Napi::CallbackInfo& info, size_t i) { return toInt(info.Env(), info[i], argName(i)); }

std::vector<int64_t> argIntList(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsArray()) throw Napi::TypeError::New(info.Env(), argName(i) + ": expected an array of integers");
  Napi::Array arr = info[i].As<Napi::Array>();
  std::vector<int64_t> out(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); k++)
    out[k] = toInt(info.Env(), arr[k], argName(i) + "[" + std::to_string(k) + "]");
  return out;
}

double argDouble(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), argName(i) + ": expected a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

at::Scalar argScalar(const Napi::CallbackInfo& info, size_t i) {
  double d = argDouble(info, i);
  if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) <= 9007199254740991.0) return at::Scalar(static_cast<int64_t>(d));
  return at::Scalar(d);
}

bool argBool(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsBoolean()) throw Napi::TypeError::New(info.Env(), argName(i) + ": expected a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

at::ScalarType argDtype(const Napi::CallbackInfo& info, size_t i) {
  int64_t code = argInt(info, i);
  if (code < 0 || code > 3) throw Napi::TypeError::New(info.Env(), argName(i) + ": unknown dtype code");
  return scalarType(static_cast<int>(code));
}

void trackBox(TensorBox* box) {
  std::lock_guard<std::mutex> lock(liveMutex);
  liveBoxes.insert(box);
}

void untrackBox(TensorBox* box) {
  std::lock_guard<std::mutex> lock(liveMutex);
  liveBoxes.erase(box);
}

// What one handle costs natively until its External is finalized (the box, the finalizer
// record, the tracking entry), told to V8: it cannot see native memory, and without this a
// process whose JS heap stays small runs full collections so rarely that finalized-late handles
// pile up by the million (in-process predict grew ~1.7 KB a line). Counted as external memory,
// they make V8 collect in proportion to them.
constexpr int64_t kHandleExternalBytes = 512;

// The handle's finalizer is the safety net for tensors dropped without dispose() or a scope: it
// frees the tensor with the box. It is the only one: a JS FinalizationRegistry over the Tensor
// objects kept every tensor ever made alive through the scavenges (V8 treats a registered
// target as reachable until a full collection) and its record alive until the cleanup task
// after that, so `spinn predict`'s JS heap grew between full collections and each collection
// left more behind (RSS +10-20% over 100,000 lines, issue 11).
Napi::Value wrapTensor(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Null();
  auto* box = new TensorBox{std::move(t)};
  trackBox(box);
  handleCount++;
  Napi::MemoryManagement::AdjustExternalMemory(env, kHandleExternalBytes);
  auto ext = Napi::External<TensorBox>::New(env, box, [](Napi::Env env, TensorBox* b) {
    if (b->tensor.defined()) collectedCount++;
    untrackBox(b);
    delete b;
    handleCount--;
    Napi::MemoryManagement::AdjustExternalMemory(env, -kHandleExternalBytes);
  });
  napi_type_tag_object(env, ext, &kTensorTag);
  return ext;
}

Napi::Value wrapTensorList(Napi::Env env, const std::vector<at::Tensor>& ts) {
  Napi::Array arr = Napi::Array::New(env, ts.size());
  for (size_t k = 0; k < ts.size(); k++) arr.Set(static_cast<uint32_t>(k), wrapTensor(env, ts[k]));
  return arr;
}

Napi::Value wrapDouble(Napi::Env env, double v) { return Napi::Number::New(env, v); }

int64_t reduction(int64_t code) {
  if (code < 0 || code > 2) throw std::invalid_argument("reduction must be 0 (none), 1 (mean) or 2 (sum)");
  return code;
}

at::Tensor copyInto(at::Tensor& dst, const at::Tensor& src) {
  at::NoGradGuard noGrad;
  dst.copy_(src);
  return dst;
}

namespace {

Napi::Value init(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "init expects the TorchError class");
  addonOf(info.Env()).torchError = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// Releases the tensor now; returns whether it was still held (false when already disposed).
Napi::Value dispose(const Napi::CallbackInfo& info) {
  TensorBox* box = argBox(info, 0);
  bool held = box->tensor.defined();
  if (held) {
    box->tensor = at::Tensor();
    untrackBox(box);
  }
  return Napi::Boolean::New(info.Env(), held);
}

// disposeMany(handles): releases several tensors in one call (a scope's end); returns how many
// were still held.
Napi::Value disposeMany(const Napi::CallbackInfo& info) {
  if (!info[0].IsArray()) throw Napi::TypeError::New(info.Env(), "argument 1: expected an array of tensor handles");
  Napi::Array arr = info[0].As<Napi::Array>();
  uint32_t released = 0;
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value v = arr[k];
    bool tagged = false;
    if (v.IsExternal()) napi_check_object_type_tag(info.Env(), v, &kTensorTag, &tagged);
    if (!tagged)
      throw Napi::TypeError::New(info.Env(), "argument 1[" + std::to_string(k) + "]: expected a tensor handle");
    TensorBox* box = v.As<Napi::External<TensorBox>>().Data();
    if (!box->tensor.defined()) continue;
    box->tensor = at::Tensor();
    untrackBox(box);
    released++;
  }
  return Napi::Number::New(info.Env(), released);
}

// Live tensors and the bytes of the distinct storages they hold (views share storage).
Napi::Value memory(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(liveMutex);
  std::unordered_set<const void*> seen;
  double cpuBytes = 0, cudaBytes = 0;
  for (TensorBox* box : liveBoxes) {
    const at::Tensor& t = box->tensor;
    if (!t.has_storage()) continue;
    const void* key = t.storage().unsafeGetStorageImpl();
    if (!seen.insert(key).second) continue;
    (t.is_cuda() ? cudaBytes : cpuBytes) += static_cast<double>(t.storage().nbytes());
  }
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("tensors", static_cast<double>(liveBoxes.size()));
  out.Set("bytes", cpuBytes + cudaBytes);
  out.Set("cpuBytes", cpuBytes);
  out.Set("cudaBytes", cudaBytes);
  out.Set("handles", static_cast<double>(handleCount.load()));
  out.Set("collectedByGc", static_cast<double>(collectedCount.load()));
  size_t used, free, top;
  largeBlockBytes(used, free, top);
  Napi::Object large = Napi::Object::New(info.Env());
  large.Set("usedBytes", static_cast<double>(used));
  large.Set("freeBytes", static_cast<double>(free));
  large.Set("topBytes", static_cast<double>(top));
  out.Set("largeBlocks", large);
  return out;
}

// releaseFreeMemory(): hands the pages the allocators hold free back to the OS (malloc_trim for
// glibc's, from the middle of its arenas too, not only their tops; mi_collect for mimalloc's);
// returns whether glibc released any. libtorch allocates each batch's tensors in sizes that change
// from batch to batch, and the freed ones leave holes an allocator keeps: without this, a predict
// process's RSS follows its high-water mark and the fragmentation of the arena (+30-60 MiB over
// the first 100,000 lines with glibc alone, issue 11), with it the memory the current batch
// needs. About 4 ms on a 100 MB arena: a long-running reader calls it once per batch, not per
// tensor. releaseFreeMemory(true), between batches, leaves up to 32 MiB of the large-block range's
// free pages resident for the next batch (large_blocks.cpp).
Napi::Value releaseFreeMemory(const Napi::CallbackInfo& info) {
  bool betweenBatches = info.Length() > 0 && info[0].IsBoolean() && info[0].As<Napi::Boolean>().Value();
  return Napi::Boolean::New(info.Env(), releaseFreeAllocatorMemory(betweenBatches));
}

// Every exported function is this one trampoline, handed its table row as callback data: the
// row's body runs inside guard() under the row's name, so no entry point can let a C++
// exception reach V8 and none has to repeat the guard.
Napi::Value invoke(const Napi::CallbackInfo& info) {
  const auto* row = static_cast<const EntryPoint*>(info.Data());
  return guard(info, row->name, [&]() -> Napi::Value { return row->body(info); });
}

}  // namespace

const EntryTable handleEntryPoints = {
    {"init", init},
    {"dispose", dispose},
    {"disposeMany", disposeMany},
    {"memory", memory},
    {"releaseFreeMemory", releaseFreeMemory},
};

}  // namespace spinn

// The one place the addon's exports are made: every row of every table, each name once (a name
// registered twice would silently replace the first function, so it fails the load instead).
static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new spinn::Addon());
  const spinn::EntryTable* tables[] = {
      &spinn::handleEntryPoints,      &spinn::generatedEntryPoints,   &spinn::coreEntryPoints,
      &spinn::autogradEntryPoints,    &spinn::optimEntryPoints,       &spinn::stateMemoryEntryPoints,
      &spinn::batchedLinearEntryPoints, &spinn::cellEntryPoints,      &spinn::dropoutEntryPoints,
      &spinn::distributedEntryPoints,
  };
  for (const spinn::EntryTable* t : tables) {
    for (const spinn::EntryPoint& row : *t) {
      if (exports.Has(row.name))
        throw Napi::Error::New(env, std::string("native entry point registered twice: ") + row.name);
      exports.Set(row.name, Napi::Function::New(env, spinn::invoke, row.name, const_cast<spinn::EntryPoint*>(&row)));
    }
  }
  return exports;
}

NODE_API_MODULE(spinn_native, Init)
