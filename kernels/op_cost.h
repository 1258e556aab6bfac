// Building blocks of the step-profile costs that each kernel entry reports (runtime/op_profile.h).
// An entry's cost mirrors what its CUDA twin launches, kernel by kernel: each kernel reads the
// tensors it reads and writes the tensors it writes once. Scratch buffers of the two-stage
// reductions (a few KiB of per-block partials) are not counted.
#pragma once
#include <vector>

#include "runtime/op_profile.h"
#include "runtime/tensor.h"

namespace autonet {

// Bytes of the given tensors; an undefined tensor (a gradient nobody wants) counts 0.
template <class... Tensors>
int64_t bytes_of(const Tensors&... ts) {
  return ((ts.defined() ? static_cast<int64_t>(ts.nbytes()) : int64_t(0)) + ... + 0);
}

// Bytes of the tensors ts[k] for which pick(k) holds (an op's members or candidates), and of all.
template <class Pick>
int64_t bytes_of_picked(const std::vector<Tensor>& ts, Pick pick) {
  int64_t total = 0;
  for (size_t k = 0; k < ts.size(); ++k)
    if (pick(k)) total += bytes_of(ts[k]);
  return total;
}
inline int64_t bytes_of_all(const std::vector<Tensor>& ts) {
  return bytes_of_picked(ts, [](size_t) { return true; });
}

// One kernel (or cuBLAS call, memset, device copy) reading `read` bytes and writing `written`.
inline OpCost launch(int64_t read, int64_t written, int64_t flops = 0) {
  return {1, read, written, flops};
}

// One cuBLAS call, counted as one launch (OpCost::library_calls).
inline OpCost library_call(int64_t read, int64_t written, int64_t flops = 0) {
  OpCost cost = launch(read, written, flops);
  cost.library_calls = 1;
  return cost;
}

// `cost` run on the side stream (runtime/side_stream.h): counted as it is, and as side work.
inline OpCost on_side_stream(OpCost cost) { return cost.on_side_stream(); }

inline OpCost operator+(OpCost a, const OpCost& b) { return a += b; }

}  // namespace autonet
