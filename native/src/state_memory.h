// What other native files share with the state memory (state_memory.cpp): reading its row
// indices from JS, and its gather, for the ops that read a memory's rows in the same call as
// their own work (the cells inside a memory in cells.cpp, the products of gathered rows in
// batched_linear.cpp).
#pragma once

#include "common.h"

namespace spinn {

// The JS Int32Array at argument i as an int64 index on the host, each row checked to lie in
// [0, limit): a bad row is a RangeError naming it and its position.
at::Tensor hostRowIndex(const Napi::CallbackInfo& info, size_t i, int64_t limit);

// The index on the memory's device (the same tensor on the CPU).
at::Tensor onDeviceOf(const at::Tensor& index, const at::Tensor& memory);

// A write's end: the memory's token handle (argument i) takes the next token, in place. The
// graph holds the tensor it replaces where a node took it as input, and the memory's owner needs
// only the newest, so a write costs no new handle (and no call to release the old one).
Napi::Value advanceToken(const Napi::CallbackInfo& info, size_t i, at::Tensor next);

// A gather's part in JS arguments: token, memory, gradMemory, rows (Int32Array), group, start,
// count (StateMemory.gatherParts).
constexpr size_t kGatherPartArgs = 7;

// The parts from argument `first` to the last, read side by side (R x the sum of their
// group * count), as the differentiable op stateGather is; the rows of part k are argument
// first + kGatherPartArgs * k + 3.
at::Tensor gatherArgs(const Napi::CallbackInfo& info, size_t first);

}  // namespace spinn
