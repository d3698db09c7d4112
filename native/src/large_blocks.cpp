// Tensors of 128 KiB and more, placed best-fit in one reserved address range.
//
// Why: a training step allocates and frees ~300 such blocks of ever-changing sizes (each
// transition step's gradients, gathers and gates; BENCHMARKS.md). mimalloc puts each in its own
// run of 64 KiB slices inside 32 MiB segments, and a freed run serves a later block only if it
// is large enough where it lies, so the blocks spread over new segments: replaying a traced
// 8-step window of SNLI training, mimalloc committed 292 MiB for at most 208 MiB of live tensors,
// glibc 244, and address-ordered best fit over one range 224. Freed pages stay resident while
// they are reused (no page faults to get them back); pages free for a second go back to the OS,
// as mimalloc's do, and releaseFreeMemory() hands back the rest. The range is reserved without
// access (PROT_NONE: no memory, no commit charge) and made writable as its top grows; what does
// not fit goes to the general allocator.
#include "large_blocks.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>

namespace spinn {
namespace {

// madvise and mprotect work in whole pages of the machine's size.
size_t pageSize() {
  static const size_t bytes = size_t(sysconf(_SC_PAGESIZE));
  return bytes;
}
// The writable part grows in steps of this much (one mprotect per step).
constexpr size_t kWritableStep = size_t(64) << 20;
// Free pages not reused for this long go back to the OS (mimalloc's delay, cpu_allocator.cpp):
// a training step reuses the last step's pages well within it, while the blocks of a burst of
// long inputs at a server do not stay. Checked at most this often, on the allocator's calls.
constexpr auto kIdleRelease = std::chrono::milliseconds(1000);
constexpr auto kIdleCheckEvery = std::chrono::milliseconds(100);

size_t roundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

void releasePages(uintptr_t at, size_t size) {
  if (size > 0) madvise(reinterpret_cast<void*>(at), size, MADV_DONTNEED);
}

}  // namespace

bool LargeBlocks::reserve(size_t bytes) {
  bytes = roundUp(bytes, kWritableStep);
  void* p = mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return false;
  base_ = reinterpret_cast<uintptr_t>(p);
  end_ = base_ + bytes;
  writableEnd_ = top_ = touchedEnd_ = base_;
  return true;
}

bool LargeBlocks::makeWritable(uintptr_t upTo) {
  if (upTo <= writableEnd_) return true;
  uintptr_t newEnd = std::min(end_, writableEnd_ + roundUp(upTo - writableEnd_, kWritableStep));
  if (mprotect(reinterpret_cast<void*>(writableEnd_), newEnd - writableEnd_, PROT_READ | PROT_WRITE) != 0)
    return false;
  writableEnd_ = newEnd;
  return true;
}

void LargeBlocks::insertFree(uintptr_t at, FreeExtent extent) {
  freeByAddress_.emplace(at, extent);
  freeBySize_.emplace(extent.size, at);
}

void LargeBlocks::eraseFree(uintptr_t at) {
  auto it = freeByAddress_.find(at);
  freeBySize_.erase({it->second.size, at});
  freeByAddress_.erase(it);
}

void* LargeBlocks::allocate(size_t n) {
  if (base_ == 0) return nullptr;
  const size_t size = roundUp(n, pageSize());
  std::lock_guard<std::mutex> lock(mutex_);
  releaseIdlePages(Clock::now());
  uintptr_t at;
  // The smallest free extent that holds it, the lowest of equal ones.
  auto fit = freeBySize_.lower_bound({size, 0});
  if (fit != freeBySize_.end()) {
    at = fit->second;
    FreeExtent extent = freeByAddress_.at(at);
    eraseFree(at);
    if (extent.size > size) insertFree(at + size, {extent.size - size, extent.since, extent.released});
  } else {
    // None does: the block goes on top (no free extent ends there: free() merges it into the top).
    if (size > kMaxOnTop || size > end_ - top_ || !makeWritable(top_ + size)) return nullptr;
    at = top_;
    top_ += size;
    touchedEnd_ = std::max(touchedEnd_, top_);
  }
  used_.emplace(at, size);
  usedBytes_ += size;
  return reinterpret_cast<void*>(at);
}

void LargeBlocks::free(void* p) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = used_.find(reinterpret_cast<uintptr_t>(p));
  if (it == used_.end()) return;  // owns() said it is ours: never happens
  uintptr_t at = it->first;
  size_t size = it->second;
  used_.erase(it);
  usedBytes_ -= size;
  const auto now = Clock::now();
  // Merged with the free extents on either side; free since now, as a whole.
  auto next = freeByAddress_.find(at + size);
  if (next != freeByAddress_.end()) {
    size += next->second.size;
    eraseFree(next->first);
  }
  auto after = freeByAddress_.lower_bound(at);
  if (after != freeByAddress_.begin()) {
    auto before = std::prev(after);
    if (before->first + before->second.size == at) {
      at = before->first;
      size += before->second.size;
      eraseFree(at);
    }
  }
  if (at + size == top_) {
    top_ = at;  // back to the unused top; its pages stay resident for reuse a while
    topSince_ = now;
  } else {
    insertFree(at, {size, now, false});
  }
  releaseIdlePages(now);
}

void LargeBlocks::releaseIdlePages(Clock::time_point now) {
  if (now - lastIdleCheck_ < kIdleCheckEvery) return;
  lastIdleCheck_ = now;
  for (auto& [at, extent] : freeByAddress_) {
    if (extent.released || now - extent.since < kIdleRelease) continue;
    releasePages(at, extent.size);
    extent.released = true;
  }
  if (touchedEnd_ > top_ && now - topSince_ >= kIdleRelease) {
    releasePages(top_, touchedEnd_ - top_);
    touchedEnd_ = top_;
  }
}

void LargeBlocks::releaseFreePages(size_t retain) {
  std::lock_guard<std::mutex> lock(mutex_);
  // The lowest `retain` bytes of free space stay resident (the range fills from the bottom up): a
  // process that releases after every batch (spinn predict) would otherwise take page faults for
  // its next batch's blocks every time (0.75-0.93 of the lines/s in three runs). All sizes here
  // are whole pages.
  retain = retain / pageSize() * pageSize();
  size_t free = touchedEnd_ - top_;
  for (const auto& [at, extent] : freeByAddress_)
    if (!extent.released) free += extent.size;
  if (free <= retain) return;
  size_t release = free - retain;
  // The upper part of [from, to), as much of it as is still to release.
  auto drop = [&](uintptr_t from, uintptr_t to) -> size_t {
    size_t n = std::min(release, size_t(to - from));
    releasePages(to - n, n);
    release -= n;
    return n;
  };
  touchedEnd_ -= drop(top_, touchedEnd_);
  for (auto it = freeByAddress_.rbegin(); it != freeByAddress_.rend() && release > 0; ++it) {
    if (it->second.released) continue;
    size_t n = drop(it->first, it->first + it->second.size);
    it->second.released = n == it->second.size;
  }
}

LargeBlocks::Usage LargeBlocks::usage() {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t free = 0;
  for (const auto& [at, extent] : freeByAddress_) free += extent.size;
  return {usedBytes_, free, top_ - base_};
}

}  // namespace spinn
