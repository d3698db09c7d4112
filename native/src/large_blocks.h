// Tensors of 128 KiB and more, placed best-fit in one reserved address range (large_blocks.cpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <utility>

namespace spinn {

class LargeBlocks {
 public:
  /** The smallest block it places; smaller ones stay with the general allocator. */
  static constexpr size_t kMinBytes = size_t(128) << 10;
  /**
   * The largest block that may raise the top: a larger one goes into a free extent that holds
   * it or else to the general allocator, which maps and unmaps it on its own (mimalloc's "huge"
   * blocks). A server's state memories double as a burst of long inputs grows them (17, 18, 27,
   * 35, 55, 70 MiB): on top, each would leave its predecessor's hole behind.
   */
  static constexpr size_t kMaxOnTop = size_t(16) << 20;
  /** What releaseFreeMemory(true), between two batches, keeps resident for the next one. */
  static constexpr size_t kRetainedBetweenBatches = size_t(32) << 20;

  /** Reserves `bytes` of address space (no memory yet); false when the OS refuses. */
  bool reserve(size_t bytes);
  /** A block of at least n bytes, page-aligned; nullptr when the range has no room for it. */
  void* allocate(size_t n);
  /** Whether p is a block of this range (then free() takes it). */
  bool owns(const void* p) const {
    auto a = reinterpret_cast<uintptr_t>(p);
    return a >= base_ && a < end_;
  }
  void free(void* p);
  /**
   * Hands the pages of the free extents and of the unused top back to the OS, all but the lowest
   * `retain` bytes of them (those the next blocks reuse first).
   */
  void releaseFreePages(size_t retain);

  struct Usage {
    size_t used;  // bytes of the blocks in use (page-rounded)
    size_t free;  // bytes of the free extents below the top
    size_t top;   // bytes from the start of the range to the end of the highest block in use
  };
  Usage usage();

 private:
  using Clock = std::chrono::steady_clock;
  struct FreeExtent {
    size_t size;
    Clock::time_point since;  // free since then (its most recently freed part)
    bool released;            // its pages went back to the OS since
  };
  void insertFree(uintptr_t at, FreeExtent extent);
  void eraseFree(uintptr_t at);
  bool makeWritable(uintptr_t upTo);
  void releaseIdlePages(Clock::time_point now);

  std::mutex mutex_;
  uintptr_t base_ = 0, end_ = 0;
  // [base_, writableEnd_) is readable and writable; the rest of the range is PROT_NONE.
  uintptr_t writableEnd_ = 0;
  // Nothing at or above top_ is in use; pages in [top_, touchedEnd_) may still be resident, free
  // since topSince_.
  uintptr_t top_ = 0, touchedEnd_ = 0;
  Clock::time_point topSince_;
  Clock::time_point lastIdleCheck_;
  std::map<uintptr_t, FreeExtent> freeByAddress_;
  std::set<std::pair<size_t, uintptr_t>> freeBySize_;
  std::unordered_map<uintptr_t, size_t> used_;
  size_t usedBytes_ = 0;
};

}  // namespace spinn
