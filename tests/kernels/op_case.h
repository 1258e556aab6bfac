// One row of the kernel verification table (DESIGN.md §5) and the helpers rows are written with.
//
// A row names its inputs and outputs, and gives forward/backward lambdas that call the public
// kernel entries. The generic runner (test_op_cases.cpp) applies every check to every row:
// float64 central finite differences, the gradient accumulate/write contract, guard bands around
// outputs, and CUDA-vs-CPU parity on random and on small-integer inputs.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "runtime/tensor.h"
#include "tests/sum_tolerance.h"

namespace autonet::test {

enum class Fill {
  uniform,   // uniform in [low, high)
  nonzero,   // uniform magnitude in [low, high), random sign: keeps away from relu/abs kinks
  distinct,  // a random permutation of distinct values in [low, high): no max-pool ties
  index,     // integers in [0, high) (dtype i64), e.g. labels or token ids
};

struct InputSpec {
  std::string name;
  Shape shape;
  Fill fill = Fill::uniform;
  double low = -1.0, high = 1.0;
  bool differentiable = true;
  // How backward must treat this input's gradient (the contract the runner checks).
  GradMode grad_mode = GradMode::Write;
};

struct OutputSpec {
  std::string name;
  Shape shape;
  bool differentiable = true;  // false: indices, saved statistics; gets no dL/d(output)
  DType dtype = DType::f32;    // f32 means "the case's float dtype"; i64 for indices
};

using Tensors = std::vector<Tensor>;

struct OpCase {
  std::string name;  // "family/variant/shape", used as the test name
  std::vector<InputSpec> inputs;
  std::vector<OutputSpec> outputs;
  // Writes every output; outputs arrive preallocated (and poisoned) by the runner.
  std::function<void(const Tensors& in, Tensors& out)> forward;
  // Writes or accumulates into din[i] for each differentiable input i (others are undefined).
  // Empty when the op has no gradient.
  std::function<void(const Tensors& in, const Tensors& out, const Tensors& dout, Tensors& din)>
      backward;

  // CUDA vs CPU in float32: |cuda - cpu| <= atol + rtol * |cpu|. `why` justifies the numbers.
  double atol = 1e-5, rtol = 1e-5;
  std::string why = "a few float32 roundings per element";
  // A row's tolerance is set with its reason.
  void set_tolerance(double abs_tol, double rel_tol, std::string reason) {
    atol = abs_tol;
    rtol = rel_tol;
    why = std::move(reason);
  }
  // Per-element bounds (tests/sum_tolerance.h) for rows whose elements are float32 sums: atol is
  // then each element's floor and spread scales its own sum's u·sqrt(n·q). Either the row is a sum
  // of products, linear in each input (the runner derives n and q by running the row in float64
  // on ones and on squared inputs), or it gives sum_terms: for the float64 inputs and output
  // gradients, the SumTerms of each compared tensor, the outputs and then the gradients of the
  // differentiable inputs, in order (an empty SumTerms: that tensor holds no long sums).
  bool sums_of_products = false;
  std::function<std::vector<SumTerms>(const Tensors& in, const Tensors& dout)> sum_terms;
  double spread = 20;
  bool per_element_sums() const { return sums_of_products || sum_terms != nullptr; }
  // Small-integer inputs make every sum exact: CUDA must then match the CPU bit for bit.
  bool exact_on_integers = false;
  // Finite differences: how many entries of each differentiable input to probe (0 = all).
  int fd_samples = 24;
  double fd_eps = 1e-6, fd_tol = 1e-6;
  bool check_finite_differences = true;
  bool stochastic = false;  // uses Philox: parity still exact in the random decisions
};

// Ops that only move elements (concat, slices, shuffles): CUDA must match the CPU bit for bit.
inline void expect_pure_copies(OpCase& c) {
  c.set_tolerance(0, 0, "pure copies");
  c.exact_on_integers = true;
}

// The message of the autonet::Error that call() throws, "no error" when it throws none: what
// the families' argument-error tests search for the name of the tensor at fault.
template <class Call>
std::string error_message_of(Call&& call) {
  try {
    call();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// Each family contributes its rows; op_cases.cpp is the explicit list of families.
std::vector<OpCase> elementwise_cases();
std::vector<OpCase> batch_norm_cases();
std::vector<OpCase> batch_norm_group_cases();
std::vector<OpCase> mixed_sum_cases();
std::vector<OpCase> bn_mixed_sum_cases();
std::vector<OpCase> optim_cases();
std::vector<OpCase> gemm_cases();
std::vector<OpCase> conv2d_cases();
std::vector<OpCase> depthwise_conv2d_cases();
std::vector<OpCase> pool2d_cases();
std::vector<OpCase> stencil_group_cases();
std::vector<OpCase> pointwise_group_cases();
std::vector<OpCase> depthwise_group_cases();
std::vector<OpCase> factorized_reduce_cases();
std::vector<OpCase> reduce_cases();
std::vector<OpCase> softmax_cases();
std::vector<OpCase> embedding_cases();
std::vector<OpCase> dropout_cases();
std::vector<OpCase> concat_cases();
std::vector<OpCase> channel_shuffle_cases();
std::vector<OpCase> rnn_cell_cases();
std::vector<OpCase> all_op_cases();

// The DARTS shapes the table uses (reference §1–§3: batch 64, C 16/32/64 at 32/16/8 pixels).
inline const std::vector<Shape>& darts_image_shapes() {
  static const std::vector<Shape> shapes = {{64, 16, 32, 32}, {64, 32, 16, 16}, {64, 64, 8, 8}};
  return shapes;
}

}  // namespace autonet::test
