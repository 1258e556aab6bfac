// The caching allocator's memory that side-stream work may still read (runtime/side_stream.h).
// Side launches are numbered 1, 2, ...; a block released after launch n was made may be read by
// launches up to n, so it is held back until the compute stream has waited for launch n: only
// then can the compute stream be given it again without a race. Host bookkeeping only (the
// allocator keeps one per device), so its rules are tested on any machine.
#pragma once
#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace autonet {

class HeldReleases {
 public:
  // Launch n was made: what is released from now on waits for it.
  void side_launched(int64_t n) { launched_ = std::max(launched_, n); }
  // True while some launch has not been waited for: a release must be held.
  bool holding() const { return launched_ > joined_; }
  void hold(void* block) { held_.emplace_back(launched_, block); }
  // The compute stream has waited for launches up to n: the blocks only they could read, in the
  // order they were released.
  std::vector<void*> joined_through(int64_t n) {
    joined_ = std::max(joined_, n);
    std::vector<void*> free_again;
    std::vector<std::pair<int64_t, void*>> still_held;
    for (const auto& [last_reader, block] : held_) {
      if (last_reader <= joined_)
        free_again.push_back(block);
      else
        still_held.emplace_back(last_reader, block);
    }
    held_ = std::move(still_held);
    return free_again;
  }
  size_t held() const { return held_.size(); }

 private:
  int64_t launched_ = 0, joined_ = 0;
  std::vector<std::pair<int64_t, void*>> held_;  // (last launch that may read it, block)
};

}  // namespace autonet
