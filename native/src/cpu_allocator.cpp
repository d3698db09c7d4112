// The CPU tensors' allocator: mimalloc instead of glibc's malloc, where the machine has it.
//
// Why: libtorch takes every CPU tensor from malloc, in sizes that change from batch to batch and
// step to step, interleaved with the small objects of the autograd graph. glibc keeps the holes
// this leaves (its heap shrinks only from the top), so a training process's peak RSS sat
// 140-170 MiB higher than with mimalloc, which keeps blocks of a size class together, at the same
// speed (BENCHMARKS.md, "Memory"). It cannot replace malloc for the whole process from here (that
// needs LD_PRELOAD before Node starts), so it takes the tensors only: c10's allocator registry lets
// a library register a CPU allocator above libtorch's default one. Blocks of 128 KiB and more
// come from a best-fit range of their own instead (large_blocks.cpp says why), which comes with it.
//
// mimalloc is opened at run time (Debian's libmimalloc2.0), not linked: an addon built or
// prebuilt where it is installed still loads where it is not, with libtorch's default allocator.
// SPINN_ALLOCATOR=system keeps the default even where mimalloc is there (to compare the two).
#include <c10/core/CPUAllocator.h>
#include <dlfcn.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "common.h"
#include "large_blocks.h"

namespace spinn {
namespace {

// The functions of mimalloc's API the allocator uses (mimalloc.h declares them so).
struct Mimalloc {
  void* (*mallocAligned)(size_t size, size_t alignment) = nullptr;
  void (*free)(void* p) = nullptr;
  void (*collect)(bool force) = nullptr;
  void (*optionSet)(int option, long value) = nullptr;
};

// mi_option_decommit_delay (2.0; mi_option_purge_delay, the same slot, in 2.1): how long freed
// pages stay committed before mimalloc returns them to the OS. Its default (25 ms in 2.0.9) is
// shorter than one training step, so a step's freed blocks went back to the OS and came back as
// page faults in the next step: 2.6 times glibc's page faults and ~10% fewer training pairs/s.
// One second keeps them for reuse across steps at the same peak (BENCHMARKS.md). Not set when
// the user set it (MIMALLOC_DECOMMIT_DELAY, MIMALLOC_PURGE_DELAY).
constexpr int kDecommitDelayOption = 15;
constexpr long kDecommitDelayMs = 1000;

Mimalloc mimalloc;

// c10's default CPU allocator aligns to 64 bytes (c10::gAlignment): kernels vectorise on it.
constexpr size_t kAlignment = 64;

// Blocks of 128 KiB and more, best-fit in a range of their own (large_blocks.cpp); the rest, and
// what does not fit there, from mimalloc.
// Never destroyed: libtorch's own static objects may free tensors after this file's are gone.
LargeBlocks& largeBlocks = *new LargeBlocks;

void freeTensorBlock(void* p) {
  if (largeBlocks.owns(p))
    largeBlocks.free(p);
  else
    mimalloc.free(p);
}

struct MimallocCpuAllocator final : at::Allocator {
  at::DataPtr allocate(size_t n) const override {
    void* p = n >= LargeBlocks::kMinBytes ? largeBlocks.allocate(n) : nullptr;
    if (p == nullptr && n > 0) p = mimalloc.mallocAligned(n, kAlignment);
    TORCH_CHECK(n == 0 || p != nullptr, "mimalloc: can't allocate memory: you tried to allocate ", n, " bytes");
    return {p, p, &freeTensorBlock, at::Device(at::DeviceType::CPU)};
  }
  at::DeleterFnPtr raw_deleter() const override { return &freeTensorBlock; }
};

MimallocCpuAllocator mimallocCpuAllocator;

bool openMimalloc() {
  void* lib = dlopen("libmimalloc.so.2", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) return false;
  mimalloc.mallocAligned = reinterpret_cast<void* (*)(size_t, size_t)>(dlsym(lib, "mi_malloc_aligned"));
  mimalloc.free = reinterpret_cast<void (*)(void*)>(dlsym(lib, "mi_free"));
  mimalloc.collect = reinterpret_cast<void (*)(bool)>(dlsym(lib, "mi_collect"));
  mimalloc.optionSet = reinterpret_cast<void (*)(int, long)>(dlsym(lib, "mi_option_set"));
  return mimalloc.mallocAligned != nullptr && mimalloc.free != nullptr && mimalloc.collect != nullptr &&
         mimalloc.optionSet != nullptr;
}

void setDecommitDelay() {
  if (std::getenv("MIMALLOC_DECOMMIT_DELAY") != nullptr || std::getenv("MIMALLOC_PURGE_DELAY") != nullptr) return;
  mimalloc.optionSet(kDecommitDelayOption, kDecommitDelayMs);
}

// As much address space as the machine has memory (no set of tensors beyond that can be
// resident), and under an address-space limit (ulimit -v) at most a quarter of it, so that the
// rest of the process (V8, mimalloc, the libraries) keeps room.
size_t largeBlockRangeBytes() {
  size_t bytes = size_t(sysconf(_SC_PHYS_PAGES)) * size_t(sysconf(_SC_PAGESIZE));
  struct rlimit limit;
  if (getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
    bytes = std::min(bytes, size_t(limit.rlim_cur / 4));
  return bytes;
}

bool systemAllocatorAsked() {
  const char* v = std::getenv("SPINN_ALLOCATOR");
  return v != nullptr && std::strcmp(v, "system") == 0;
}

// Registered while the addon loads, before it makes any tensor: libtorch's own initialisers ran
// first (it is a dependency) and registered the default at priority 0. A tensor keeps the deleter
// of the allocator that made it, so tensors made before this still free correctly. The library
// stays open for the life of the process (blocks it handed out may be freed at any time).
const bool mimallocRegistered = [] {
  if (systemAllocatorAsked() || !openMimalloc()) return false;
  setDecommitDelay();
  largeBlocks.reserve(largeBlockRangeBytes());
  c10::SetCPUAllocator(&mimallocCpuAllocator, /*priority=*/1);
  return true;
}();

}  // namespace

const char* cpuAllocatorName() { return mimallocRegistered ? "mimalloc" : "system"; }

void largeBlockBytes(size_t& used, size_t& free, size_t& top) {
  LargeBlocks::Usage u = largeBlocks.usage();
  used = u.used;
  free = u.free;
  top = u.top;
}

// Hands the free pages of both allocators back to the OS: glibc's (the autograd graph's objects,
// and the tensors when mimalloc is not in use) and mimalloc's (this thread's heap, where the
// caller's tensors were made).
bool releaseFreeAllocatorMemory(bool betweenBatches) {
  if (mimallocRegistered) {
    largeBlocks.releaseFreePages(betweenBatches ? LargeBlocks::kRetainedBetweenBatches : 0);
    mimalloc.collect(true);
  }
  return malloc_trim(0) == 1;
}

}  // namespace spinn
