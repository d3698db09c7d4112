// The thin stack's state memory (docs/ARCHITECTURE.md, "The state memory"): one buffer of rows (leaves,
// REDUCE outputs, a null row) that the encoder reads from and appends to at every step.
//
// With stock autograd, each index_copy into the buffer and each gather from it would carry a
// gradient the size of the whole buffer, making the backward pass O(steps x rows). Here the
// buffer is not an autograd tensor at all. A read's backward adds its gradient into a shared
// gradient buffer, touching only the rows it read (index_add_); a write's backward takes the
// gradient of the rows it wrote from that buffer (index_select). Every row is written once.
//
// Ordering: reads and writes thread a scalar "token" through the graph (each write returns a
// new token, each read takes the latest one), so autograd runs a write's backward only after
// the backward of every later read -- by then the gradient of its rows is complete.
#include <torch/csrc/autograd/custom_function.h>

#include "common.h"

namespace spinn {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct ReadRows : public torch::autograd::Function<ReadRows> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& token, const at::Tensor& memory,
                            const at::Tensor& gradMemory, const at::Tensor& index) {
    ctx->saved_data["grad_memory"] = gradMemory;
    ctx->saved_data["index"] = index;
    return memory.index_select(0, index);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    at::Tensor gradMemory = ctx->saved_data["grad_memory"].toTensor();
    at::Tensor index = ctx->saved_data["index"].toTensor();
    gradMemory.index_add_(0, index, grads[0]);
    return {at::zeros({}, gradMemory.options()), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

struct WriteRows : public torch::autograd::Function<WriteRows> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& token, at::Tensor memory, const at::Tensor& gradMemory,
                            const at::Tensor& index, const at::Tensor& value) {
    memory.index_copy_(0, index, value);
    ctx->saved_data["grad_memory"] = gradMemory;
    ctx->saved_data["index"] = index;
    return at::zeros({}, memory.options());
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    at::Tensor gradMemory = ctx->saved_data["grad_memory"].toTensor();
    at::Tensor index = ctx->saved_data["index"].toTensor();
    return {at::zeros({}, gradMemory.options()), at::Tensor(), at::Tensor(), at::Tensor(),
            gradMemory.index_select(0, index)};
  }
};

// A read of `group` rows per output row, columns [start, start + count) of each, side by side:
// out[j] = [memory[rows[j*group]][cols] | ... | memory[rows[j*group + group - 1]][cols]]. It is
// ReadRows followed by narrow and reshape, as one op (the tracker's [buffer top, stack top, stack
// second] h's; a composition's two children's h's); its backward adds into the gradient
// buffer's columns of the rows it read.
struct GatherRows : public torch::autograd::Function<GatherRows> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& token, const at::Tensor& memory,
                            const at::Tensor& gradMemory, const at::Tensor& index, int64_t group, int64_t start,
                            int64_t count) {
    ctx->saved_data["grad_memory"] = gradMemory;
    ctx->saved_data["index"] = index;
    ctx->saved_data["start"] = start;
    ctx->saved_data["count"] = count;
    return memory.narrow(1, start, count).index_select(0, index).reshape({index.numel() / group, group * count});
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    at::Tensor gradMemory = ctx->saved_data["grad_memory"].toTensor();
    at::Tensor index = ctx->saved_data["index"].toTensor();
    int64_t start = ctx->saved_data["start"].toInt(), count = ctx->saved_data["count"].toInt();
    at::Tensor columns = gradMemory.narrow(1, start, count);
    columns.index_add_(0, index, grads[0].reshape({index.numel(), count}));
    return {at::zeros({}, gradMemory.options()), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// Row indices arrive as a JS Int32Array (the schedule lives in typed arrays on the host). They
// are bounds-checked here, on the host: index_select/index_copy check bounds on the CPU but not
// inside CUDA kernels, where a bad index would be a device-side assert.
at::Tensor rowIndex(const Napi::CallbackInfo& info, size_t i, const at::Tensor& memory) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i + 1) + ": expected an Int32Array of rows");
  auto rows = info[i].As<Napi::Int32Array>();
  int64_t n = static_cast<int64_t>(rows.ElementLength()), limit = memory.size(0);
  at::Tensor index = at::empty({n}, at::kLong);
  int64_t* out = index.data_ptr<int64_t>();
  for (int64_t k = 0; k < n; k++) {
    int32_t r = rows[static_cast<size_t>(k)];
    if (r < 0 || r >= limit)
      throw Napi::RangeError::New(info.Env(), "row " + std::to_string(r) + " (position " + std::to_string(k) +
                                                  ") is outside the state memory's " + std::to_string(limit) + " rows");
    out[k] = r;
  }
  return memory.is_cpu() ? index : index.to(memory.device(), /*non_blocking=*/true);
}

// The arguments both entry points start with, read in order: (token, memory, gradMemory, rows).
struct RowsArgs {
  at::Tensor token, memory, gradMemory, index;
};
RowsArgs rowsArgs(const Napi::CallbackInfo& info, size_t count) {
  expectArgs(info, count);
  at::Tensor token = argTensor(info, 0), memory = argTensor(info, 1), gradMemory = argTensor(info, 2);
  return {token, memory, gradMemory, rowIndex(info, 3, memory)};
}

// stateRead(token, memory, gradMemory, rows: Int32Array) -> the rows
Napi::Value stateRead(const Napi::CallbackInfo& info) {
  RowsArgs a = rowsArgs(info, 4);
  return wrapTensor(info.Env(), ReadRows::apply(a.token, a.memory, a.gradMemory, a.index));
}

// stateWrite(token, memory, gradMemory, rows: Int32Array, value) -> new token
Napi::Value stateWrite(const Napi::CallbackInfo& info) {
  RowsArgs a = rowsArgs(info, 5);
  at::Tensor& value = argTensor(info, 4);
  TORCH_CHECK(value.dim() == 2 && value.size(0) == a.index.numel() && value.size(1) == a.memory.size(1),
              "value must be ", a.index.numel(), " x ", a.memory.size(1), ", got ", value.sizes());
  return wrapTensor(info.Env(), WriteRows::apply(a.token, a.memory, a.gradMemory, a.index, value));
}

// stateGather(token, memory, gradMemory, rows: Int32Array, group, start, count)
//   -> (rows / group) x (group * count): see GatherRows
Napi::Value stateGather(const Napi::CallbackInfo& info) {
  RowsArgs a = rowsArgs(info, 7);
  int64_t group = argInt(info, 4), start = argInt(info, 5), count = argInt(info, 6);
  TORCH_CHECK(group >= 1 && a.index.numel() % group == 0, "stateGather: ", a.index.numel(),
              " rows do not make groups of ", group);
  TORCH_CHECK(start >= 0 && count >= 1 && start + count <= a.memory.size(1), "stateGather: columns [", start, ", ",
              start + count, ") outside the memory's ", a.memory.size(1));
  return wrapTensor(info.Env(), GatherRows::apply(a.token, a.memory, a.gradMemory, a.index, group, start, count));
}

}  // namespace

const EntryTable stateMemoryEntryPoints = {
    {"stateRead", stateRead},
    {"stateGather", stateGather},
    {"stateWrite", stateWrite},
};

}  // namespace spinn
