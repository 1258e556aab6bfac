// Public entries of the embedding family: validate once, then dispatch to a twin.
#include "kernels/embedding.h"

#include "kernels/op_cost.h"

namespace autonet {

namespace {
// ids [S...] → [S..., D]
Shape embedded_shape(const Tensor& ids, int64_t dim) {
  Shape shape = ids.shape();
  shape.push_back(dim);
  return shape;
}

void check_table(const Tensor& table, const Tensor& ids, const char* what) {
  check_float_tensor(table, 2, what);
  check_contiguous(ids, what);
  check_dtype(ids, DType::i64, what);
  check_same_device(table, ids, what);
}

void check_rows(const Tensor& table, const Tensor& rows, const Tensor& ids, const char* what) {
  check_matches(rows, table, embedded_shape(ids, table.size(1)), what);
}
}  // namespace

void embedding_forward(const Tensor& weight, const Tensor& ids, Tensor& out) {
  check_table(weight, ids, "embedding_forward");
  check_rows(weight, out, ids, "embedding_forward");
  count_op("embedding_forward", [&] {  // gathers one table row per id
    return out.numel() == 0 ? OpCost{} : launch(bytes_of(ids, out), bytes_of(out));
  });
  AN_ON_DEVICE(weight.device(), cpu::embedding_forward(weight, ids, out),
               cuda::embedding_forward(weight, ids, out));
}

void embedding_backward(const Tensor& ids, const Tensor& dout, Tensor& dweight) {
  check_table(dweight, ids, "embedding_backward");
  check_rows(dweight, dout, ids, "embedding_backward");
  // Positions (iota), CUB's radix sort of (id, position) pairs, then one kernel adding each id's
  // run of rows. The sort's launches are CUB's onesweep: a histogram, a scan, and a memset and a
  // pass kernel per 8 of the 64 key bits (an estimate of CUB's internals until a GPU counts them).
  count_op("embedding_backward", [&] {
    if (dout.numel() == 0) return OpCost{};
    const int64_t pairs = 2 * bytes_of(ids);
    OpCost sort{18, 8 * pairs, 8 * pairs, 0};
    // The last kernel updates at most as many dweight rows as dout holds.
    return launch(0, bytes_of(ids)) + sort +
           launch(pairs + 2 * bytes_of(dout), bytes_of(dout), dout.numel());
  });
  AN_ON_DEVICE(dweight.device(), cpu::embedding_backward(ids, dout, dweight),
               cuda::embedding_backward(ids, dout, dweight));
}

}  // namespace autonet
