// Rows and checks for kernels/batch_norm_group.h: the table's rows, and the group against the
// single op (batch_norm.h) member by member.
#include <gtest/gtest.h>

#include "kernels/batch_norm_group.h"
#include "tests/kernels/op_case.h"

namespace autonet::test {

namespace {
struct GroupVariant {
  bool training = true;
  bool tracked = true;       // running statistics defined
  bool from_output = false;  // backward given the outputs, as the autograd layer runs it
  int untouched = -1;        // this member's x gets no gradient (its dx undefined), -1: none
};

std::string variant_name(const GroupVariant& v) {
  std::string s = v.training ? "train" : "eval";
  if (!v.tracked) s += "_untracked";
  if (v.from_output) s += "_from_output";
  if (v.untouched >= 0) s += "_no_dx" + std::to_string(v.untouched);
  return s;
}

// Inputs [x_k for each member, then (running_mean_k, running_var_k) for each member]; outputs
// [y_k for each, save_mean_k for each, save_invstd_k for each, then (running_mean_new_k,
// running_var_new_k) for each]. As batch_norm's rows, the running statistics are inputs the
// forward copies into outputs before updating them, so the update is compared too.
OpCase group_case(int members, const GroupVariant& v, const Shape& shape, int fd_samples = 24) {
  OpCase c;
  c.name = "batch_norm_group/" + std::to_string(members) + "_" + variant_name(v) + "/" +
           shape_str(shape);
  const Shape channels{shape[1]};
  const size_t k_count = static_cast<size_t>(members);
  for (size_t k = 0; k < k_count; ++k) {
    InputSpec x{"x" + std::to_string(k), shape};
    x.differentiable = static_cast<int>(k) != v.untouched;
    c.inputs.push_back(x);
  }
  if (v.tracked)
    for (size_t k = 0; k < k_count; ++k) {
      InputSpec mean{"running_mean" + std::to_string(k), channels};
      InputSpec var{"running_var" + std::to_string(k), channels, Fill::uniform, 0.5, 2.0};
      mean.differentiable = var.differentiable = false;
      c.inputs.push_back(mean);
      c.inputs.push_back(var);
    }
  for (size_t k = 0; k < k_count; ++k) c.outputs.push_back({"y" + std::to_string(k), shape});
  for (const char* saved : {"save_mean", "save_invstd"})
    for (size_t k = 0; k < k_count; ++k)
      c.outputs.push_back({saved + std::to_string(k), channels, false});
  if (v.tracked)
    for (size_t k = 0; k < k_count; ++k) {
      c.outputs.push_back({"running_mean_new" + std::to_string(k), channels, false});
      c.outputs.push_back({"running_var_new" + std::to_string(k), channels, false});
    }
  BatchNormParams p;
  p.training = v.training;
  BatchNormParams backward_params = p;
  backward_params.backward_from_output = v.from_output;
  const bool tracked = v.tracked, from_output = v.from_output;
  // Output k of each kind sits at kind·K + k.
  const auto slice = [k_count](const Tensors& ts, size_t kind) {
    return std::vector<Tensor>(ts.begin() + kind * k_count, ts.begin() + (kind + 1) * k_count);
  };
  c.forward = [=](const Tensors& in, Tensors& out) {
    std::vector<Tensor> rm(k_count), rv(k_count);
    if (tracked)
      for (size_t k = 0; k < k_count; ++k) {
        out[3 * k_count + 2 * k].copy_from(in[k_count + 2 * k]);
        out[3 * k_count + 2 * k + 1].copy_from(in[k_count + 2 * k + 1]);
        rm[k] = out[3 * k_count + 2 * k], rv[k] = out[3 * k_count + 2 * k + 1];
      }
    std::vector<Tensor> ys = slice(out, 0), means = slice(out, 1), invstds = slice(out, 2);
    batch_norm_group_forward(slice(in, 0), rm, rv, ys, means, invstds, p);
  };
  c.backward = [=](const Tensors& in, const Tensors& out, const Tensors& dout, Tensors& din) {
    std::vector<Tensor> dxs = slice(din, 0);
    batch_norm_group_backward(from_output ? slice(out, 0) : slice(in, 0), slice(out, 1),
                              slice(out, 2), slice(dout, 0), dxs, backward_params);
  };
  const bool big = shape_numel(shape) > 100000;
  c.set_tolerance(big ? 2e-4 : 1e-5, 1e-4,
                  "as batch_norm's rows: per-channel sums of up to 65536 floats in another order "
                  "(the CPU sums in double), then 1/sqrt in double on both sides");
  c.fd_samples = fd_samples;
  return c;
}
}  // namespace

std::vector<OpCase> batch_norm_group_cases() {
  std::vector<OpCase> rows;
  const GroupVariant train{}, eval{false}, untracked{true, false};
  const GroupVariant train_from_output{true, true, true}, eval_from_output{false, true, true};
  // One member, two, on both layouts and modes.
  for (const GroupVariant& v : {train, eval, untracked, train_from_output, eval_from_output}) {
    rows.push_back(group_case(1, v, {2, 3, 5, 7}));
    rows.push_back(group_case(2, v, {3, 4, 3, 2}));
  }
  rows.push_back(group_case(2, train, {5, 3}));  // [N, C]
  rows.push_back(group_case(3, eval_from_output, {4, 2}));
  // A member without an input gradient (an output unused, or an input that needs none).
  rows.push_back(group_case(3, {true, true, true, 1}, {2, 3, 4, 4}));
  rows.push_back(group_case(3, {false, true, false, 0}, {2, 3, 4, 4}));
  // A full group, smallest legal training batch per channel.
  rows.push_back(group_case(kMaxGroupMembers, train_from_output, {2, 2, 1, 1}, 4));
  rows.push_back(group_case(kMaxGroupMembers, eval, {1, 3, 2, 2}, 4));
  // DARTS: the middle BNs of the 8 sep convs (4 edges × sep_conv_3x3/5x5) leaving a state, at
  // the three cell widths, as the autograd layer runs them (backward from the outputs).
  // Finite differences stay with the small rows above (the same code at every size): here a
  // probe costs two forwards of 8 BNs over 0.26M to 1M elements each, seconds per row.
  for (const Shape& s : darts_image_shapes()) {
    OpCase c = group_case(8, train_from_output, s);
    c.check_finite_differences = false;
    rows.push_back(std::move(c));
  }
  return rows;
}

namespace {
Tensor random(const Shape& shape, DType dtype, uint64_t seed, double low = -2.0,
              double high = 3.0) {
  Tensor t = Tensor::empty(shape, dtype);
  fill_uniform(t, low, high, seed);
  return t;
}

void expect_same(const Tensor& got, const Tensor& want, const std::string& what) {
  EXPECT_EQ(got.to(DType::f64).to_vector<double>(), want.to(DType::f64).to_vector<double>())
      << what;
}
}  // namespace

// The CPU twin is the single op member by member, bit for bit: outputs, saved and running
// statistics, and input gradients (from the input and from the output), one member skipped.
TEST(BatchNormGroup, EqualsTheSingleOpMemberByMemberExactly) {
  for (DType dtype : {DType::f32, DType::f64})
    for (bool training : {true, false})
      for (const Shape& shape : {Shape{4, 3, 5, 6}, Shape{64, 16, 8, 8}, Shape{6, 5}}) {
        SCOPED_TRACE(std::string(dtype_name(dtype)) + (training ? " train " : " eval ") +
                     shape_str(shape));
        const int k_count = 5;
        const int64_t channels = shape[1];
        BatchNormParams p;
        p.training = training;
        p.momentum = 0.3;
        std::vector<Tensor> xs, dys, rm, rv, ref_rm, ref_rv, ys, means, invstds;
        for (int k = 0; k < k_count; ++k) {
          xs.push_back(random(shape, dtype, 10 + k, -2.0 + k, 3.0 + 2 * k));
          dys.push_back(random(shape, dtype, 20 + k, -1.0, 1.0));
          const bool tracked = !training || k != 2;  // member 2 untracked in training
          rm.push_back(tracked ? random({channels}, dtype, 30 + k) : Tensor());
          rv.push_back(tracked ? random({channels}, dtype, 40 + k, 0.5, 2.0) : Tensor());
          ref_rm.push_back(tracked ? rm.back().clone() : Tensor());
          ref_rv.push_back(tracked ? rv.back().clone() : Tensor());
          ys.push_back(Tensor::empty(shape, dtype));
          means.push_back(Tensor::empty({channels}, dtype));
          invstds.push_back(Tensor::empty({channels}, dtype));
        }
        batch_norm_group_forward(xs, rm, rv, ys, means, invstds, p);
        for (bool from_output : {false, true}) {
          BatchNormParams bp = p;
          bp.backward_from_output = from_output;
          std::vector<Tensor> dxs;
          for (int k = 0; k < k_count; ++k)
            dxs.push_back(k == 3 ? Tensor() : Tensor::empty(shape, dtype));
          batch_norm_group_backward(from_output ? ys : xs, means, invstds, dys, dxs, bp);
          for (int k = 0; k < k_count; ++k) {
            const std::string at = " of member " + std::to_string(k);
            Tensor y = Tensor::empty(shape, dtype), mean = Tensor::empty({channels}, dtype);
            Tensor invstd = Tensor::empty({channels}, dtype), none;
            Tensor m0 = ref_rm[k].defined() ? ref_rm[k].clone() : Tensor();
            Tensor v0 = ref_rv[k].defined() ? ref_rv[k].clone() : Tensor();
            batch_norm_forward(xs[k], none, none, m0, v0, y, mean, invstd, p);
            if (!from_output) {
              expect_same(ys[k], y, "y" + at);
              expect_same(means[k], mean, "save_mean" + at);
              expect_same(invstds[k], invstd, "save_invstd" + at);
              if (m0.defined()) {
                expect_same(rm[k], m0, "running_mean" + at);
                expect_same(rv[k], v0, "running_var" + at);
              }
            }
            if (!dxs[k].defined()) continue;
            Tensor dx = Tensor::empty(shape, dtype);
            batch_norm_backward(from_output ? y : xs[k], none, mean, invstd, dys[k], dx, none, none,
                                bp);
            expect_same(dxs[k], dx, std::string(from_output ? "dx from output" : "dx") + at);
          }
        }
      }
}

// Members without an output (a consumer normalises as it reads) get the statistics, saved and
// running, that the full forward gives them, bit for bit; the others their outputs as before.
TEST(BatchNormGroup, MembersWithoutOutputGetTheirStatisticsOnly) {
  const Shape shape{4, 3, 5, 6};
  std::vector<Tensor> xs, rm, rv, ys, means, invstds;
  for (int k = 0; k < 3; ++k) {
    xs.push_back(random(shape, DType::f32, 80 + k));
    rm.push_back(random({3}, DType::f32, 83 + k));
    rv.push_back(random({3}, DType::f32, 86 + k, 0.5, 2.0));
    ys.push_back(Tensor::empty(shape));
    means.push_back(Tensor::empty({3}));
    invstds.push_back(Tensor::empty({3}));
  }
  std::vector<Tensor> rm2, rv2, means2, invstds2, ys2{Tensor(), Tensor::empty(shape), Tensor()};
  for (int k = 0; k < 3; ++k) {
    rm2.push_back(rm[k].clone());
    rv2.push_back(rv[k].clone());
    means2.push_back(Tensor::empty({3}));
    invstds2.push_back(Tensor::empty({3}));
  }
  batch_norm_group_forward(xs, rm, rv, ys, means, invstds, {});
  batch_norm_group_forward(xs, rm2, rv2, ys2, means2, invstds2, {});
  for (int k = 0; k < 3; ++k) {
    const std::string at = " of member " + std::to_string(k);
    expect_same(means2[k], means[k], "save_mean" + at);
    expect_same(invstds2[k], invstds[k], "save_invstd" + at);
    expect_same(rm2[k], rm[k], "running_mean" + at);
    expect_same(rv2[k], rv[k], "running_var" + at);
  }
  expect_same(ys2[1], ys[1], "y of member 1");
}

// Errors name the member and the tensor.
TEST(BatchNormGroup, RejectsBadArgumentsNamingTheMember) {
  const Shape s{2, 3, 4, 4};
  const auto zeros = [](int k, const Shape& shape) {
    std::vector<Tensor> ts;
    for (int i = 0; i < k; ++i) ts.push_back(Tensor::zeros(shape));
    return ts;
  };
  std::vector<Tensor> xs = zeros(3, s), ys = zeros(3, s), rm = zeros(3, {3}), rv = zeros(3, {3});
  std::vector<Tensor> sm = zeros(3, {3}), si = zeros(3, {3});
  const BatchNormParams train;
  BatchNormParams eval;
  eval.training = false;
  const auto forward_error = [&](const BatchNormParams& p) -> std::string {
    try {
      batch_norm_group_forward(xs, rm, rv, ys, sm, si, p);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(forward_error(train), "");
  const auto expect_error = [&](const std::string& message, const std::string& needle) {
    EXPECT_NE(message.find(needle), std::string::npos)
        << "expected an error containing '" << needle << "', got '" << message << "'";
  };
  xs[2] = Tensor::zeros({2, 3, 4, 5});  // a member of another shape
  expect_error(forward_error(train), "member 2 x");
  xs[2] = Tensor::zeros(s, DType::f64);
  expect_error(forward_error(train), "member 2 x");
  xs[2] = Tensor();
  expect_error(forward_error(train), "member 2 x");
  xs[2] = Tensor::zeros(s);
  ys[1] = Tensor::zeros({2, 3, 4, 3});
  expect_error(forward_error(train), "member 1 y");
  ys[1] = Tensor::zeros(s);
  rm[1] = Tensor::zeros({4});
  expect_error(forward_error(train), "member 1 running_mean");
  rm[1] = Tensor();  // running statistics come in pairs
  expect_error(forward_error(train), "member 1 running_mean");
  rv[1] = Tensor();  // untracked: fine in training, not in eval
  EXPECT_EQ(forward_error(train), "");
  expect_error(forward_error(eval), "member 1 running_mean");
  rm[1] = Tensor::zeros({3}), rv[1] = Tensor::zeros({3});
  si[0] = Tensor();
  expect_error(forward_error(train), "member 0 save_invstd");
  si[0] = Tensor::zeros({3});
  sm.pop_back();
  expect_error(forward_error(train), "2 save_mean for 3 members");
  sm.push_back(Tensor::zeros({3}));
  BatchNormParams bad = train;
  bad.eps = 0;
  expect_error(forward_error(bad), "eps");
  std::vector<Tensor> none, many = zeros(kMaxGroupMembers + 1, s);
  EXPECT_THROW(batch_norm_group_forward(none, rm, rv, ys, sm, si, train), Error);
  EXPECT_THROW(batch_norm_group_forward(many, rm, rv, ys, sm, si, train), Error);
  std::vector<Tensor> x1 = zeros(1, {1, 3, 1, 1}), y1 = zeros(1, {1, 3, 1, 1});
  std::vector<Tensor> rm1(rm.begin(), rm.begin() + 1), rv1(rv.begin(), rv.begin() + 1);
  std::vector<Tensor> sm1(sm.begin(), sm.begin() + 1), si1(si.begin(), si.begin() + 1);
  EXPECT_THROW(batch_norm_group_forward(x1, rm1, rv1, y1, sm1, si1, train), Error);  // one value
  EXPECT_NO_THROW(batch_norm_group_forward(x1, rm1, rv1, y1, sm1, si1, eval));

  std::vector<Tensor> dys = zeros(3, s), dxs = zeros(3, s);
  const auto backward_error = [&]() -> std::string {
    try {
      batch_norm_group_backward(xs, sm, si, dys, dxs, train);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(backward_error(), "");
  dxs[1] = Tensor::zeros({2, 3, 4, 3});
  expect_error(backward_error(), "member 1 dx");
  dxs[1] = Tensor::zeros(s);
  dys[2] = Tensor();  // a gradient asked for without its dy
  expect_error(backward_error(), "member 2 dx");
  dxs[2] = Tensor();  // ... but a member skipped needs none
  EXPECT_EQ(backward_error(), "");
  dys[0] = Tensor::zeros(s, DType::f64);
  expect_error(backward_error(), "member 0 dy");
  dys[0] = Tensor::zeros(s);
  sm[2] = Tensor::zeros({2});
  expect_error(backward_error(), "member 2 save_mean");
}

}  // namespace autonet::test
