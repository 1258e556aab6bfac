// Rows and hand-computed checks for kernels/embedding.h.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/embedding.h"
#include "tests/kernels/op_case.h"

namespace autonet::test {

namespace {
OpCase embedding_case(int64_t vocabulary, int64_t dim, const Shape& ids_shape) {
  OpCase c;
  c.name = "embedding/V" + std::to_string(vocabulary) + "xD" + std::to_string(dim) + "/" +
           shape_str(ids_shape);
  InputSpec weight{"weight", {vocabulary, dim}};
  weight.grad_mode = GradMode::Accumulate;  // a parameter
  InputSpec ids{"ids", ids_shape, Fill::index, 0.0, static_cast<double>(vocabulary)};
  ids.differentiable = false;
  c.inputs = {weight, ids};
  Shape out_shape = ids_shape;
  out_shape.push_back(dim);
  c.outputs = {{"out", out_shape}};
  c.forward = [](const Tensors& in, Tensors& out) { embedding_forward(in[0], in[1], out[0]); };
  c.backward = [](const Tensors& in, const Tensors&, const Tensors& dout, Tensors& din) {
    embedding_backward(in[1], dout[0], din[0]);
  };
  c.set_tolerance(0, 0,
                  "a copy, and a scatter-add in the CPU's order of positions (sorted runs): bitwise equal");
  c.exact_on_integers = true;
  return c;
}
}  // namespace

std::vector<OpCase> embedding_cases() {
  std::vector<OpCase> rows;
  rows.push_back(embedding_case(1, 1, {1}));
  rows.push_back(embedding_case(10, 7, {3, 5}));     // repeated ids: the gradient sums them
  rows.push_back(embedding_case(1000, 16, {35, 4}));  // a PTB-like [T, B] batch of token ids
  rows.push_back(embedding_case(3, 5, {2, 3, 4}));   // few rows, many repeats
  return rows;
}

TEST(Embedding, HandComputedValues) {
  // weight rows: 0 → [1, 2], 1 → [3, 4], 2 → [5, 6]; ids [[2, 0], [2, 2]].
  Tensor weight = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor ids = Tensor::from_vector<int64_t>({2, 0, 2, 2}, {2, 2});
  Tensor out = Tensor::empty({2, 2, 2});
  embedding_forward(weight, ids, out);
  EXPECT_EQ(out.to_vector<float>(), (std::vector<float>{5, 6, 1, 2, 5, 6, 5, 6}));

  // dweight accumulates: row 2 gets the three positions that read it, row 1 keeps its start.
  Tensor dout = Tensor::from_vector<float>({1, 10, 2, 20, 3, 30, 4, 40}, {2, 2, 2});
  Tensor dweight = Tensor::full({3, 2}, 0.5f);
  embedding_backward(ids, dout, dweight);
  EXPECT_EQ(dweight.to_vector<float>(), (std::vector<float>{2.5, 20.5, 0.5, 0.5, 8.5, 80.5}));

  // A scalar id (shape []) gives one row [D].
  Tensor one = Tensor::from_vector<int64_t>({1}, {}), row = Tensor::empty({2});
  embedding_forward(weight, one, row);
  EXPECT_EQ(row.to_vector<float>(), (std::vector<float>{3, 4}));
}

TEST(Embedding, IdOutOfRangeThrowsOnCpu) {
  Tensor weight = Tensor::zeros({3, 2});
  Tensor ids = Tensor::from_vector<int64_t>({0, 3}, {2});
  Tensor out = Tensor::empty({2, 2});
  try {
    embedding_forward(weight, ids, out);
    FAIL() << "an out-of-range id must throw on the CPU";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("id 3 at position 1"), std::string::npos) << e.what();
  }
  Tensor negative = Tensor::from_vector<int64_t>({-1, 0}, {2});
  EXPECT_THROW(embedding_backward(negative, out, weight), Error);
}

TEST(Embedding, CudaIdOutOfRangeGivesNanRow) {
  Tensor ids = Tensor::from_vector<int64_t>({0, 3}, {2});
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "the CUDA NaN row needs a GPU: " << why;
  const Device gpu = Device::cuda(0);
  Tensor wg = Tensor::full({3, 2}, 1.0, DType::f32, gpu), og = Tensor::empty({2, 2}, DType::f32, gpu);
  embedding_forward(wg, ids.to(gpu), og);
  const std::vector<float> v = og.to_vector<float>();
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_TRUE(std::isnan(v[2]) && std::isnan(v[3]));
}

TEST(Embedding, RejectsBadArguments) {
  Tensor weight = Tensor::empty({5, 3}), ids = Tensor::zeros({2, 4}, DType::i64);
  Tensor out = Tensor::empty({2, 4, 3});
  embedding_forward(weight, ids, out);  // the valid call
  Tensor wrong = Tensor::empty({2, 4, 4}), flat = Tensor::empty({8, 3}), d = Tensor::empty({2, 4, 3}, DType::f64);
  EXPECT_THROW(embedding_forward(weight, ids, wrong), Error);
  EXPECT_THROW(embedding_forward(weight, ids, flat), Error);
  EXPECT_THROW(embedding_forward(weight, ids, d), Error);
  Tensor ids32 = Tensor::zeros({2, 4}, DType::i32), fids = Tensor::zeros({2, 4});
  EXPECT_THROW(embedding_forward(weight, ids32, out), Error);
  EXPECT_THROW(embedding_forward(weight, fids, out), Error);
  Tensor weight3 = Tensor::empty({5, 3, 1});
  EXPECT_THROW(embedding_forward(weight3, ids, out), Error);
  Tensor iweight = Tensor::empty({5, 3}, DType::i32);
  EXPECT_THROW(embedding_forward(iweight, ids, out), Error);
  Tensor strided_ids = Tensor::zeros({2, 8}, DType::i64).slice(1, 0, 8, 2);
  EXPECT_THROW(embedding_forward(weight, strided_ids, out), Error);
  EXPECT_THROW(embedding_backward(ids, wrong, weight), Error);
  EXPECT_THROW(embedding_backward(ids32, out, weight), Error);
  Tensor dweight64 = Tensor::zeros({5, 3}, DType::f64);
  EXPECT_THROW(embedding_backward(ids, out, dweight64), Error);
}

}  // namespace autonet::test
