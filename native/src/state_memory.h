// What other native files share with the state memory (state_memory.cpp): reading its row
// indices from JS. The fused cells that read and write a memory's rows (cells.cpp) use it.
#pragma once

#include "common.h"

namespace spinn {

// The JS Int32Array at argument i as an int64 index on the host, each row checked to lie in
// [0, limit): a bad row is a RangeError naming it and its position.
at::Tensor hostRowIndex(const Napi::CallbackInfo& info, size_t i, int64_t limit);

// The index on the memory's device (the same tensor on the CPU).
at::Tensor onDeviceOf(const at::Tensor& index, const at::Tensor& memory);

}  // namespace spinn
