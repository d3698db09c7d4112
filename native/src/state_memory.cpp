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

#include "state_memory.h"

#include <cstring>

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

// One part of a gather: `group` rows of `memory` per output row, columns [start, start + count)
// of each, side by side. rows: the row indices (int64) on the host, index: the same on the
// memory's device (the same tensor on the CPU).
struct GatherPart {
  at::Tensor memory, gradMemory, rows, index;
  int64_t group, start, count;
  int64_t width() const { return group * count; }
};

// The parts' columns copied row by row into out (R x the parts' widths), on the host: a gather
// is a copy, so any dtype is one memcpy per row and part, with no intermediate tensor.
void gatherOnHost(const std::vector<GatherPart>& parts, at::Tensor& out) {
  const int64_t R = out.size(0), size = out.element_size();
  char* dst = static_cast<char*>(out.data_ptr());
  int64_t offset = 0;
  for (size_t k = 0; k < parts.size(); k++) {
    const GatherPart& p = parts[k];
    const char* src = static_cast<const char*>(p.memory.data_ptr());
    const int64_t* rows = p.rows.data_ptr<int64_t>();
    const int64_t rowBytes = p.memory.size(1) * size, bytes = p.count * size;
    for (int64_t j = 0; j < R; j++)
      for (int64_t g = 0; g < p.group; g++)
        std::memcpy(dst + ((j * out.size(1)) + offset + g * p.count) * size,
                    src + rows[j * p.group + g] * rowBytes + p.start * size, bytes);
    offset += p.width();
  }
}

// A read of several parts side by side: out[j] = [part 0's groups of row j | part 1's | ...],
// where part k's groups are [memory[rows[j*group]][cols] | ... | memory[rows[j*group+group-1]][cols]]
// (the tracker's input: [buffer top, stack top, stack second] h's beside its previous h; a
// composition's: its children's h's beside the tracker's h). It is, per part, ReadRows followed
// by narrow and reshape, then a cat, as one op. The parts may come from different memories: it
// takes each one's token, so that each memory's writes run their backward after it. Its
// backward adds into each gradient buffer's columns of the rows it read.
struct GatherRows : public torch::autograd::Function<GatherRows> {
  static at::Tensor forward(AutogradContext* ctx, at::TensorList tokens, const std::vector<GatherPart>& parts) {
    const at::Tensor& first = parts[0].memory;
    const int64_t R = parts[0].index.numel() / parts[0].group;
    int64_t width = 0;
    for (const GatherPart& p : parts) width += p.width();
    at::Tensor out;
    if (first.is_cpu() && !genericKernels()) {
      out = at::empty({R, width}, first.options());
      gatherOnHost(parts, out);
    } else {
      std::vector<at::Tensor> pieces;
      for (const GatherPart& p : parts)
        pieces.push_back(p.memory.narrow(1, p.start, p.count).index_select(0, p.index).reshape({R, p.width()}));
      out = pieces.size() == 1 ? pieces[0] : at::cat(pieces, 1);
    }
    ctx->saved_data["parts"] = static_cast<int64_t>(parts.size());
    for (size_t k = 0; k < parts.size(); k++) {
      const std::string key = "part" + std::to_string(k);
      ctx->saved_data[key + "grad_memory"] = parts[k].gradMemory;
      ctx->saved_data[key + "index"] = parts[k].index;
      ctx->saved_data[key + "group"] = parts[k].group;
      ctx->saved_data[key + "start"] = parts[k].start;
      ctx->saved_data[key + "count"] = parts[k].count;
    }
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const int64_t n = ctx->saved_data["parts"].toInt();
    variable_list result;
    int64_t offset = 0;
    for (int64_t k = 0; k < n; k++) {
      const std::string key = "part" + std::to_string(k);
      at::Tensor gradMemory = ctx->saved_data[key + "grad_memory"].toTensor();
      at::Tensor index = ctx->saved_data[key + "index"].toTensor();
      int64_t start = ctx->saved_data[key + "start"].toInt(), count = ctx->saved_data[key + "count"].toInt();
      const int64_t width = ctx->saved_data[key + "group"].toInt() * count;
      at::Tensor columns = gradMemory.narrow(1, start, count);
      columns.index_add_(0, index, grads[0].narrow(1, offset, width).reshape({index.numel(), count}));
      offset += width;
      result.push_back(at::zeros({}, gradMemory.options()));  // the part's token
    }
    result.push_back(at::Tensor());  // the parts
    return result;
  }
};

}  // namespace

// Row indices arrive as a JS Int32Array (the schedule lives in typed arrays on the host). They
// are bounds-checked here, on the host: index_select/index_copy check bounds on the CPU but not
// inside CUDA kernels, where a bad index would be a device-side assert.
at::Tensor hostRowIndex(const Napi::CallbackInfo& info, size_t i, int64_t limit) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i + 1) + ": expected an Int32Array of rows");
  auto rows = info[i].As<Napi::Int32Array>();
  int64_t n = static_cast<int64_t>(rows.ElementLength());
  at::Tensor index = at::empty({n}, at::kLong);
  int64_t* out = index.data_ptr<int64_t>();
  for (int64_t k = 0; k < n; k++) {
    int32_t r = rows[static_cast<size_t>(k)];
    if (r < 0 || r >= limit)
      throw Napi::RangeError::New(info.Env(), "row " + std::to_string(r) + " (position " + std::to_string(k) +
                                                  ") is outside the state memory's " + std::to_string(limit) + " rows");
    out[k] = r;
  }
  return index;
}

at::Tensor onDeviceOf(const at::Tensor& index, const at::Tensor& memory) {
  return memory.is_cpu() ? index : index.to(memory.device(), /*non_blocking=*/true);
}

Napi::Value advanceToken(const Napi::CallbackInfo& info, size_t i, at::Tensor next) {
  argBox(info, i)->tensor = std::move(next);
  return info.Env().Undefined();
}

at::Tensor gatherArgs(const Napi::CallbackInfo& info, size_t first) {
  const size_t n = (info.Length() - first) / kGatherPartArgs;
  TORCH_CHECK(info.Length() > first && n >= 1 && info.Length() == first + kGatherPartArgs * n, "stateGather: ",
              kGatherPartArgs, " arguments per part, got ", info.Length() - first);
  std::vector<at::Tensor> tokens;
  std::vector<GatherPart> parts;
  for (size_t k = 0; k < n; k++) {
    const size_t i = first + kGatherPartArgs * k;
    at::Tensor memory = argTensor(info, i + 1);
    GatherPart p{memory, argTensor(info, i + 2), hostRowIndex(info, i + 3, memory.size(0)), at::Tensor(),
                 argInt(info, i + 4), argInt(info, i + 5), argInt(info, i + 6)};
    p.index = onDeviceOf(p.rows, memory);
    TORCH_CHECK(p.group >= 1 && p.rows.numel() % p.group == 0, "stateGather: ", p.rows.numel(),
                " rows do not make groups of ", p.group);
    TORCH_CHECK(p.start >= 0 && p.count >= 1 && p.start + p.count <= memory.size(1), "stateGather: columns [",
                p.start, ", ", p.start + p.count, ") outside the memory's ", memory.size(1));
    TORCH_CHECK(memory.is_contiguous(), "stateGather: the memory must be contiguous");
    if (k > 0) {
      const GatherPart& head = parts[0];
      TORCH_CHECK(p.rows.numel() / p.group == head.rows.numel() / head.group, "stateGather: part ", k, " makes ",
                  p.rows.numel() / p.group, " rows, part 0 ", head.rows.numel() / head.group);
      TORCH_CHECK(memory.scalar_type() == head.memory.scalar_type() && memory.device() == head.memory.device(),
                  "stateGather: the parts' memories must have one dtype and device");
    }
    tokens.push_back(argTensor(info, i));
    parts.push_back(p);
  }
  // Without gradients there is no backward to record for (evaluation, serving): the copy alone.
  const at::Tensor& memory = parts[0].memory;
  if (!at::GradMode::is_enabled() && memory.is_cpu() && !genericKernels()) {
    int64_t width = 0;
    for (const GatherPart& p : parts) width += p.width();
    at::Tensor out = at::empty({parts[0].rows.numel() / parts[0].group, width}, memory.options());
    gatherOnHost(parts, out);
    return out;
  }
  return GatherRows::apply(at::TensorList(tokens), parts);
}

namespace {

at::Tensor rowIndex(const Napi::CallbackInfo& info, size_t i, const at::Tensor& memory) {
  return onDeviceOf(hostRowIndex(info, i, memory.size(0)), memory);
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
  // Without gradients there is no backward to record for: the read alone.
  if (!at::GradMode::is_enabled()) return wrapTensor(info.Env(), a.memory.index_select(0, a.index));
  return wrapTensor(info.Env(), ReadRows::apply(a.token, a.memory, a.gradMemory, a.index));
}

// stateWrite(token, memory, gradMemory, rows: Int32Array, value): the token handle then holds the
// new token (see advanceToken)
Napi::Value stateWrite(const Napi::CallbackInfo& info) {
  RowsArgs a = rowsArgs(info, 5);
  at::Tensor& value = argTensor(info, 4);
  TORCH_CHECK(value.dim() == 2 && value.size(0) == a.index.numel() && value.size(1) == a.memory.size(1),
              "value must be ", a.index.numel(), " x ", a.memory.size(1), ", got ", value.sizes());
  if (!at::GradMode::is_enabled()) {
    a.memory.index_copy_(0, a.index, value);  // nothing to order without a backward: the token stays
    return info.Env().Undefined();
  }
  return advanceToken(info, 0, WriteRows::apply(a.token, a.memory, a.gradMemory, a.index, value));
}

// stateGather(token, memory, gradMemory, rows: Int32Array, group, start, count, ...): one or more
// parts of 7 arguments each, read side by side -> (rows / group) x (the sum of group * count):
// see GatherRows and gatherArgs.
Napi::Value stateGather(const Napi::CallbackInfo& info) { return wrapTensor(info.Env(), gatherArgs(info, 0)); }

}  // namespace

const EntryTable stateMemoryEntryPoints = {
    {"stateRead", stateRead},
    {"stateGather", stateGather},
    {"stateWrite", stateWrite},
};

}  // namespace spinn
