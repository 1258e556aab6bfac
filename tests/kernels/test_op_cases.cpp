// The generic runner: every check of DESIGN.md §5 applied to every row of the op-case table.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "runtime/cpu_isa.h"
#include "runtime/philox.h"
#include "runtime/side_stream.h"
#include "tests/kernels/op_case.h"

namespace autonet::test {
namespace {

const std::vector<OpCase>& cases() {
  static const std::vector<OpCase> table = all_op_cases();
  return table;
}

constexpr int64_t kGuard = 61;  // guard elements before and after every output and gradient
constexpr double kGuardValue = -1.2345e30;

bool is_poison_free(double v) { return std::isfinite(v); }

// ---------------------------------------------------------------------------------------------
// Inputs

Tensor make_input(const InputSpec& spec, DType dtype, uint64_t seed, bool integers) {
  const int64_t n = shape_numel(spec.shape);
  const PhiloxKey key{seed, 7, 0};
  if (spec.fill == Fill::index) {
    std::vector<int64_t> ids(n);
    for (int64_t i = 0; i < n; ++i)
      ids[i] = static_cast<int64_t>(philox_bits(key, i) % static_cast<uint32_t>(spec.high));
    return Tensor::from_vector(ids, spec.shape);
  }
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) {
    const double u = philox_uniform(key, i);
    const bool negative = philox_bits(key, i) & 1;
    if (integers) {
      // Small non-zero integers (positive when the spec is): every product and sum stays exact.
      const double magnitude = 1.0 + std::floor(u * 3.0);
      v[i] = (spec.low >= 0.0 || !negative) ? magnitude : -magnitude;
    } else if (spec.fill == Fill::nonzero) {
      const double magnitude = spec.low + (spec.high - spec.low) * u;
      v[i] = negative ? -magnitude : magnitude;
    } else {
      v[i] = spec.low + (spec.high - spec.low) * u;
    }
  }
  if (spec.fill == Fill::distinct && !integers) {
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return philox_bits(PhiloxKey{seed, 8, 0}, a) < philox_bits(PhiloxKey{seed, 8, 0}, b);
    });
    for (int64_t k = 0; k < n; ++k)
      v[order[k]] = spec.low + (spec.high - spec.low) * (k + 0.5) / static_cast<double>(n);
  }
  return Tensor::from_vector(v, spec.shape).to(dtype);
}

Tensors make_inputs(const OpCase& c, DType dtype, uint64_t seed, bool integers) {
  Tensors in;
  for (size_t i = 0; i < c.inputs.size(); ++i)
    in.push_back(make_input(c.inputs[i], dtype, seed + 101 * i, integers));
  return in;
}

Tensors to_device(const Tensors& ts, Device device) {
  Tensors out;
  for (const Tensor& t : ts) out.push_back(t.defined() ? t.to(device) : Tensor());
  return out;
}

// ---------------------------------------------------------------------------------------------
// Guarded buffers: a view into a larger buffer whose ends hold a sentinel.

struct Guarded {
  Tensor whole, view;
};

Guarded make_guarded(const Shape& shape, DType dtype, Device device, double interior) {
  Guarded g;
  const int64_t n = shape_numel(shape);
  g.whole = Tensor::full({n + 2 * kGuard}, dtype_is_float(dtype) ? kGuardValue : -777, dtype,
                         device);
  g.view = g.whole.slice(0, kGuard, kGuard + n).view(shape);
  g.view.fill_(interior);
  return g;
}

void expect_guards_intact(const Guarded& g, const std::string& what) {
  const std::vector<double> v = g.whole.to(DType::f64).to_vector<double>();
  // The guard as stored in the buffer's own dtype (-1.2345e30 rounds in float32).
  const DType dtype = g.whole.dtype();
  const double expected = Tensor::full({1}, dtype_is_float(dtype) ? kGuardValue : -777, dtype,
                                       Device::cpu())
                              .to(DType::f64)
                              .to_vector<double>()[0];
  const int64_t n = static_cast<int64_t>(v.size());
  int bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (i >= kGuard && i < n - kGuard) continue;
    if (v[i] != expected && ++bad <= 3)
      ADD_FAILURE() << what << ": guard element " << (i < kGuard ? i - kGuard : i - (n - kGuard))
                    << " past the buffer was overwritten with " << v[i];
  }
}

DType output_dtype(const OutputSpec& spec, DType float_dtype) {
  return spec.dtype == DType::f32 ? float_dtype : spec.dtype;
}

Tensors run_forward(const OpCase& c, const Tensors& in, DType dtype, Device device) {
  std::vector<Guarded> guarded;
  Tensors out;
  for (const OutputSpec& spec : c.outputs) {
    const DType t = output_dtype(spec, dtype);
    guarded.push_back(make_guarded(spec.shape, t, device,
                                   dtype_is_float(t) ? std::numeric_limits<double>::quiet_NaN() : -5));
    out.push_back(guarded.back().view);
  }
  c.forward(in, out);
  synchronize(device);
  for (size_t k = 0; k < guarded.size(); ++k)
    expect_guards_intact(guarded[k], c.name + " output '" + c.outputs[k].name + "'");
  return out;
}

Tensors make_output_grads(const OpCase& c, DType dtype, uint64_t seed, bool integers) {
  Tensors dout;
  for (size_t k = 0; k < c.outputs.size(); ++k) {
    if (!c.outputs[k].differentiable) {
      dout.emplace_back();
      continue;
    }
    InputSpec spec{"d" + c.outputs[k].name, c.outputs[k].shape};
    dout.push_back(make_input(spec, dtype, seed + 977 * (k + 1), integers));
  }
  return dout;
}

// Gradient buffers in their contract's starting state: Write buffers are poisoned with NaN (every
// element must be written), Accumulate buffers hold `start` (defined by the caller).
struct GradBuffers {
  std::vector<Guarded> guarded;
  Tensors din;
};

GradBuffers make_grad_buffers(const OpCase& c, DType dtype, Device device, const Tensors& start) {
  GradBuffers b;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    if (!c.inputs[i].differentiable) {
      b.guarded.emplace_back();
      b.din.emplace_back();
      continue;
    }
    Guarded g = make_guarded(c.inputs[i].shape, dtype, device,
                             std::numeric_limits<double>::quiet_NaN());
    if (c.inputs[i].grad_mode == GradMode::Accumulate) g.view.copy_from(start[i].to(device));
    b.guarded.push_back(g);
    b.din.push_back(g.view);
  }
  return b;
}

void run_backward(const OpCase& c, const Tensors& in, const Tensors& out, const Tensors& dout,
                  GradBuffers& b, Device device) {
  {
    // As autograd's backward runs it: weight gradients on the side stream, joined at the end.
    SideStreamScope side_streams(device);
    c.backward(in, out, dout, b.din);
  }
  synchronize(device);
  for (size_t i = 0; i < b.din.size(); ++i)
    if (b.din[i].defined())
      expect_guards_intact(b.guarded[i], c.name + " gradient of '" + c.inputs[i].name + "'");
}

// In the exact-integer parity test the start is small integers too: a fractional start would make
// start + sum depend on where the GEMM adds it in.
Tensors random_accumulate_start(const OpCase& c, DType dtype, uint64_t seed, bool integers) {
  Tensors start;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    InputSpec spec{"start", c.inputs[i].shape};
    start.push_back(make_input(spec, dtype, seed + 31 * i, integers));
  }
  return start;
}

// |a - b| <= atol + rtol |b| for every element; reports the first few mismatches and the worst.
void expect_close(const Tensor& actual, const Tensor& expected, double atol, double rtol,
                  const std::string& what) {
  const std::vector<double> a = actual.to(DType::f64).to_vector<double>();
  const std::vector<double> e = expected.to(DType::f64).to_vector<double>();
  ASSERT_EQ(a.size(), e.size()) << what;
  int bad = 0;
  double worst = 0;
  int64_t worst_at = -1;
  for (size_t i = 0; i < a.size(); ++i) {
    const double diff = std::abs(a[i] - e[i]);
    const bool ok = is_poison_free(a[i]) && diff <= atol + rtol * std::abs(e[i]);
    if (!ok) {
      if (++bad <= 5)
        ADD_FAILURE() << what << " [" << i << "]: got " << a[i] << ", expected " << e[i];
      if (!(diff <= worst)) {
        worst = diff;
        worst_at = static_cast<int64_t>(i);
      }
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << a.size() << " elements differ; worst at "
                    << worst_at << " (|diff| " << worst << ", atol " << atol << ", rtol " << rtol
                    << ")";
}

// Element i of `actual` against `expected` within its own bound (tests/sum_tolerance.h).
void expect_within_sum_bounds(const Tensor& actual, const Tensor& expected, const SumTerms& terms,
                              const SumTolerance& t, const std::string& what) {
  const std::vector<double> a = actual.to(DType::f64).to_vector<double>();
  const std::vector<double> e = expected.to(DType::f64).to_vector<double>();
  ASSERT_EQ(a.size(), e.size()) << what;
  const std::vector<Mismatch> bad = outside_tolerance(a, e, terms, t);
  for (size_t k = 0; k < bad.size() && k < 5; ++k)
    ADD_FAILURE() << what << " [" << bad[k].index << "]: got " << bad[k].actual << ", expected "
                  << bad[k].expected << ", its bound " << bad[k].bound;
  EXPECT_TRUE(bad.empty()) << what << ": " << bad.size() << " of " << a.size()
                           << " elements outside their own bounds";
}

// Each compared tensor's SumTerms (outputs, then gradients of differentiable inputs) for `in`
// and `dout` (float32, as the parity test draws them), evaluated in float64 on the CPU.
std::vector<SumTerms> compared_sum_terms(const OpCase& c, const Tensors& in, const Tensors& dout) {
  auto f64 = [](const Tensors& ts) {
    Tensors out;
    for (const Tensor& t : ts)
      out.push_back(t.defined() ? (dtype_is_float(t.dtype()) ? t.to(DType::f64) : t) : Tensor());
    return out;
  };
  if (c.sum_terms) return c.sum_terms(f64(in), f64(dout));
  // A sum of products, linear in each input: the op on ones counts each element's terms, on
  // squared inputs it sums their squares (index inputs stay as they are).
  auto evaluate = [&](auto transform) {
    Tensors tin = f64(in), tdout = f64(dout);
    for (Tensors* ts : {&tin, &tdout})
      for (Tensor& t : *ts)
        if (t.defined() && dtype_is_float(t.dtype())) {
          double* p = t.data<double>();
          for (int64_t i = 0; i < t.numel(); ++i) p[i] = transform(p[i]);
        }
    std::vector<std::vector<double>> values;
    const Tensors out = run_forward(c, tin, DType::f64, Device::cpu());
    for (const Tensor& o : out) values.push_back(o.to(DType::f64).to_vector<double>());
    if (c.backward) {
      Tensors zero_start;
      for (const InputSpec& spec : c.inputs) zero_start.push_back(Tensor::zeros(spec.shape, DType::f64));
      GradBuffers g = make_grad_buffers(c, DType::f64, Device::cpu(), zero_start);
      run_backward(c, tin, out, tdout, g, Device::cpu());
      for (const Tensor& d : g.din)
        if (d.defined()) values.push_back(d.to_vector<double>());
    }
    return values;
  };
  const auto count = evaluate([](double) { return 1.0; });
  const auto squares = evaluate([](double x) { return x * x; });
  std::vector<SumTerms> terms;
  for (size_t k = 0; k < count.size(); ++k) terms.push_back({count[k], squares[k]});
  return terms;
}

std::string test_name(const std::string& name) {
  std::string s;
  for (char ch : name) s += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return s;
}

class OpCaseTest : public ::testing::TestWithParam<size_t> {
 protected:
  const OpCase& c() const { return cases()[GetParam()]; }
};

// ---------------------------------------------------------------------------------------------
// Checks

TEST_P(OpCaseTest, ForwardWritesEveryOutputOnCpu) {
  const Tensors in = make_inputs(c(), DType::f64, 1, false);
  const Tensors out = run_forward(c(), in, DType::f64, Device::cpu());
  for (size_t k = 0; k < out.size(); ++k) {
    const std::vector<double> v = out[k].to(DType::f64).to_vector<double>();
    const auto bad = std::count_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); });
    EXPECT_EQ(bad, 0) << c().name << " output '" << c().outputs[k].name << "' has " << bad
                      << " unwritten or non-finite elements";
  }
}

TEST_P(OpCaseTest, GradientMatchesFiniteDifferencesFloat64) {
  if (!c().backward) GTEST_SKIP() << c().name << " has no gradient";
  if (!c().check_finite_differences) GTEST_SKIP() << c().name << ": finite differences off (see row)";
  Tensors in = make_inputs(c(), DType::f64, 2, false);
  const Tensors dout = make_output_grads(c(), DType::f64, 3, false);

  // L = Σ_k <dout_k, out_k>, summed in long double so that untouched terms cancel exactly.
  auto loss = [&]() {
    const Tensors out = run_forward(c(), in, DType::f64, Device::cpu());
    long double total = 0;
    for (size_t k = 0; k < out.size(); ++k) {
      if (!dout[k].defined()) continue;
      const double* po = out[k].data<double>();
      const double* pd = dout[k].data<double>();
      for (int64_t i = 0; i < out[k].numel(); ++i) total += static_cast<long double>(po[i]) * pd[i];
    }
    return total;
  };

  const Tensors out = run_forward(c(), in, DType::f64, Device::cpu());
  Tensors zero_start;
  for (const InputSpec& spec : c().inputs) zero_start.push_back(Tensor::zeros(spec.shape, DType::f64));
  GradBuffers grads = make_grad_buffers(c(), DType::f64, Device::cpu(), zero_start);
  run_backward(c(), in, out, dout, grads, Device::cpu());

  for (size_t i = 0; i < c().inputs.size(); ++i) {
    if (!c().inputs[i].differentiable) continue;
    const int64_t n = in[i].numel();
    std::vector<int64_t> probes;
    if (c().fd_samples == 0 || n <= c().fd_samples) {
      probes.resize(n);
      std::iota(probes.begin(), probes.end(), 0);
    } else {
      for (int s = 0; s < c().fd_samples; ++s)
        probes.push_back(philox_bits(PhiloxKey{4, 9, 0}, s + 1000 * i) % n);
      probes.push_back(0);
      probes.push_back(n - 1);
    }
    double* x = in[i].data<double>();
    const double* g = grads.din[i].data<double>();
    int bad = 0;
    for (int64_t j : probes) {
      const double saved = x[j];
      x[j] = saved + c().fd_eps;
      const long double plus = loss();
      x[j] = saved - c().fd_eps;
      const long double minus = loss();
      x[j] = saved;
      const double numeric = static_cast<double>((plus - minus) / (2.0L * c().fd_eps));
      const double tol = c().fd_tol * (1.0 + std::abs(numeric));
      if (!(std::abs(numeric - g[j]) <= tol) && ++bad <= 5)
        ADD_FAILURE() << c().name << " d/d " << c().inputs[i].name << "[" << j
                      << "]: analytic " << g[j] << ", finite difference " << numeric;
    }
    EXPECT_EQ(bad, 0) << c().name << ": " << bad << " of " << probes.size() << " probes of '"
                      << c().inputs[i].name << "' disagree";
  }
}

TEST_P(OpCaseTest, BackwardHonoursWriteAndAccumulateContract) {
  if (!c().backward) GTEST_SKIP() << c().name << " has no gradient";
  const Tensors in = make_inputs(c(), DType::f64, 5, false);
  const Tensors dout = make_output_grads(c(), DType::f64, 6, false);
  const Tensors out = run_forward(c(), in, DType::f64, Device::cpu());
  const Tensors start = random_accumulate_start(c(), DType::f64, 7, false);
  GradBuffers grads = make_grad_buffers(c(), DType::f64, Device::cpu(), start);
  run_backward(c(), in, out, dout, grads, Device::cpu());
  Tensors once;
  for (const Tensor& g : grads.din) once.push_back(g.defined() ? g.clone() : Tensor());
  run_backward(c(), in, out, dout, grads, Device::cpu());
  for (size_t i = 0; i < c().inputs.size(); ++i) {
    if (!c().inputs[i].differentiable) continue;
    const std::string what = c().name + " gradient of '" + c().inputs[i].name + "'";
    if (c().inputs[i].grad_mode == GradMode::Write) {
      expect_close(grads.din[i], once[i], 0, 0, what + " (Write: a second backward must give the same)");
    } else {
      // Accumulate: start + 2g after two calls, where once = start + g.
      Tensor twice_expected = once[i].clone();
      const double* s = start[i].data<double>();
      double* e = twice_expected.data<double>();
      for (int64_t j = 0; j < twice_expected.numel(); ++j) e[j] = 2 * e[j] - s[j];
      expect_close(grads.din[i], twice_expected, 1e-12, 1e-12,
                   what + " (Accumulate: a second backward must add the same again)");
    }
  }
}

void run_parity(const OpCase& c, bool integers) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "CUDA parity needs a GPU: " << why;
  const Device gpu = Device::cuda(0);
  const Tensors in = make_inputs(c, DType::f32, 11, integers);
  const Tensors in_gpu = to_device(in, gpu);
  const Tensors out_cpu = run_forward(c, in, DType::f32, Device::cpu());
  const Tensors out_gpu = run_forward(c, in_gpu, DType::f32, gpu);
  const double atol = integers ? 0 : c.atol, rtol = integers ? 0 : c.rtol;
  const Tensors dout = make_output_grads(c, DType::f32, 12, integers);
  // Per-element bounds (random inputs of rows of sums); otherwise one atol + rtol·|cpu| per row.
  std::vector<SumTerms> terms;
  if (!integers && c.per_element_sums()) terms = compared_sum_terms(c, in, dout);
  size_t compared = 0;
  auto expect_agree = [&](const Tensor& gpu_value, const Tensor& cpu_value, const std::string& what) {
    const std::string label = c.name + " CUDA " + what + " (" + c.why + ")";
    if (terms.empty())
      expect_close(gpu_value, cpu_value, atol, rtol, label);
    else
      expect_within_sum_bounds(gpu_value, cpu_value, terms.at(compared), {c.atol, c.rtol, c.spread},
                               label);
    ++compared;
  };
  for (size_t k = 0; k < c.outputs.size(); ++k)
    expect_agree(out_gpu[k], out_cpu[k], "output '" + c.outputs[k].name + "'");
  if (!c.backward) return;
  const Tensors start = random_accumulate_start(c, DType::f32, 13, integers);
  GradBuffers g_cpu = make_grad_buffers(c, DType::f32, Device::cpu(), start);
  GradBuffers g_gpu = make_grad_buffers(c, DType::f32, gpu, start);
  run_backward(c, in, out_cpu, dout, g_cpu, Device::cpu());
  run_backward(c, in_gpu, out_gpu, to_device(dout, gpu), g_gpu, gpu);
  for (size_t i = 0; i < c.inputs.size(); ++i)
    if (c.inputs[i].differentiable)
      expect_agree(g_gpu.din[i], g_cpu.din[i], "gradient of '" + c.inputs[i].name + "'");
}

TEST_P(OpCaseTest, CudaMatchesCpuOnRandomInputs) { run_parity(c(), false); }

// The per-element bounds checked where a CPU can: the CPU twin in float32 against itself in
// float64, on the parity test's inputs, is one more pair of twins summing differently, so it must
// land inside the bounds CUDA is held to (and a wrong sum length would show here first).
void expect_float32_cpu_within_sum_bounds(const OpCase& c) {
  const Tensors in = make_inputs(c, DType::f32, 11, false);
  const Tensors dout = make_output_grads(c, DType::f32, 12, false);
  const std::vector<SumTerms> terms = compared_sum_terms(c, in, dout);
  Tensors in64, dout64;
  for (const Tensor& t : in) in64.push_back(dtype_is_float(t.dtype()) ? t.to(DType::f64) : t);
  for (const Tensor& t : dout) dout64.push_back(t.defined() ? t.to(DType::f64) : Tensor());
  const Tensors out32 = run_forward(c, in, DType::f32, Device::cpu());
  const Tensors out64 = run_forward(c, in64, DType::f64, Device::cpu());
  Tensors actual = out32, expected = out64;
  if (c.backward) {
    auto zeros = [&](DType dtype) {
      Tensors z;
      for (const InputSpec& spec : c.inputs) z.push_back(Tensor::zeros(spec.shape, dtype));
      return z;
    };
    GradBuffers g32 = make_grad_buffers(c, DType::f32, Device::cpu(), zeros(DType::f32));
    GradBuffers g64 = make_grad_buffers(c, DType::f64, Device::cpu(), zeros(DType::f64));
    run_backward(c, in, out32, dout, g32, Device::cpu());
    run_backward(c, in64, out64, dout64, g64, Device::cpu());
    for (size_t i = 0; i < c.inputs.size(); ++i)
      if (c.inputs[i].differentiable) {
        actual.push_back(g32.din[i]);
        expected.push_back(g64.din[i]);
      }
  }
  ASSERT_EQ(terms.size(), actual.size()) << c.name << ": one SumTerms per compared tensor";
  for (size_t k = 0; k < actual.size(); ++k) {
    if (!terms[k].count.empty()) {
      ASSERT_EQ(terms[k].count.size(), static_cast<size_t>(expected[k].numel())) << c.name;
    }
    expect_within_sum_bounds(actual[k], expected[k], terms[k], {c.atol, c.rtol, c.spread},
                             c.name + " float32 CPU, compared tensor " + std::to_string(k));
  }
}

TEST(SumTerms, Float32CpuIsWithinEachElementsBoundOfFloat64) {
  int rows = 0;
  for (const OpCase& c : cases())
    if (c.per_element_sums()) {
      expect_float32_cpu_within_sum_bounds(c);
      ++rows;
    }
  EXPECT_GE(rows, 20) << "the conv2d and rnn_mix rows bound each element by its own sum";
}

// The sum lengths of a convolution with padding: each output element counts its own taps.
// conv2d/3x3 [3, 2, 5, 7] * [4, 2, 3, 3], pad 1, bias: a corner sees 2×2 taps of 2 channels, plus
// the bias (9 terms); an interior pixel 3×3 taps (19). A dweight tap sums over the 3·5·7 output
// pixels less those where it reads padding; dbias over all 105.
TEST(SumTerms, EachElementCountsItsOwnTerms) {
  const auto row = std::find_if(cases().begin(), cases().end(), [](const OpCase& c) {
    return c.name == "conv2d/3x3/[3, 2, 5, 7]/[4, 2, 3, 3]/bias";
  });
  ASSERT_NE(row, cases().end());
  ASSERT_TRUE(row->sums_of_products);
  const Tensors in = make_inputs(*row, DType::f32, 11, false);
  const Tensors dout = make_output_grads(*row, DType::f32, 12, false);
  const std::vector<SumTerms> terms = compared_sum_terms(*row, in, dout);
  ASSERT_EQ(terms.size(), 4u);  // y, dx, dweight, dbias
  const std::vector<double>& y = terms[0].count;
  EXPECT_EQ(y[0], 9);              // y[0, 0, 0, 0]: a corner
  EXPECT_EQ(y[1 * 7 + 1], 19);     // y[0, 0, 1, 1]: interior
  EXPECT_EQ(y[6], 9);              // y[0, 0, 0, 6]: the other corner of row 0
  EXPECT_EQ(y[3], 13);             // y[0, 0, 0, 3]: top edge, 2×3 taps
  const std::vector<double>& dw = terms[2].count;
  EXPECT_EQ(dw[4], 3 * 5 * 7);     // the centre tap reads every pixel
  EXPECT_EQ(dw[0], 3 * 4 * 6);     // the top-left tap reads padding at output row 0 and column 0
  EXPECT_EQ(terms[3].count, std::vector<double>(4, 3 * 5 * 7));
  // Squares: y[0]'s terms are x·w products and the bias, q = Σ(x·w)² + b².
  const std::vector<float> x = in[0].to_vector<float>(), w = in[1].to_vector<float>();
  const double b = in[2].to_vector<float>()[0];
  double q = b * b;
  for (int ch = 0; ch < 2; ++ch)
    for (int r = 0; r < 2; ++r)
      for (int s = 0; s < 2; ++s) {
        const double xv = x[ch * 35 + r * 7 + s], wv = w[ch * 9 + (r + 1) * 3 + (s + 1)];
        q += xv * xv * wv * wv;
      }
  EXPECT_NEAR(terms[0].squares[0], q, 1e-12 * q);
}

TEST_P(OpCaseTest, CudaMatchesCpuExactlyOnSmallIntegers) {
  if (!c().exact_on_integers) GTEST_SKIP() << c().name << ": sums are not exact for this op";
  run_parity(c(), true);
}

// The CPU kernels' instruction-set variants (runtime/cpu_isa.h) compute the baseline's values bit
// for bit: the same loops without fused multiply-adds and with sums in fixed lanes. Every variant
// this build has and this CPU runs, forward and backward, float32 and float64.
struct CpuRun {
  Tensors out, din;
};

CpuRun run_on_cpu(const OpCase& c, DType dtype) {
  const Tensors in = make_inputs(c, dtype, 11, false);
  CpuRun r;
  r.out = run_forward(c, in, dtype, Device::cpu());
  if (!c.backward) return r;
  const Tensors dout = make_output_grads(c, dtype, 12, false);
  GradBuffers g =
      make_grad_buffers(c, dtype, Device::cpu(), random_accumulate_start(c, dtype, 13, false));
  run_backward(c, in, r.out, dout, g, Device::cpu());
  r.din = g.din;
  return r;
}

void expect_same_values(const Tensor& variant, const Tensor& baseline, const std::string& what) {
  const std::vector<double> v = variant.to(DType::f64).to_vector<double>();
  const std::vector<double> b = baseline.to(DType::f64).to_vector<double>();
  ASSERT_EQ(v.size(), b.size()) << what;
  for (size_t i = 0; i < v.size(); ++i)
    ASSERT_EQ(v[i], b[i]) << what << ", element " << i << " of " << v.size();
}

TEST_P(OpCaseTest, EveryCpuInstructionSetGivesTheBaselinesBits) {
  std::vector<CpuIsa> variants;
  for (CpuIsa isa : built_cpu_isas())
    if (isa != CpuIsa::baseline && cpu_supports(isa)) variants.push_back(isa);
  if (variants.empty())
    GTEST_SKIP() << "no CPU kernel variant beyond the baseline is built and runnable here";
  for (DType dtype : {DType::f32, DType::f64}) {
    CpuRun baseline;
    {
      CpuIsaSwitch to(CpuIsa::baseline);
      baseline = run_on_cpu(c(), dtype);
    }
    for (CpuIsa isa : variants) {
      CpuIsaSwitch to(isa);
      const CpuRun variant = run_on_cpu(c(), dtype);
      const std::string label =
          c().name + " " + cpu_isa_name(isa) + (dtype == DType::f32 ? " float32 " : " float64 ");
      for (size_t k = 0; k < c().outputs.size(); ++k)
        expect_same_values(variant.out[k], baseline.out[k],
                           label + "output '" + c().outputs[k].name + "'");
      for (size_t i = 0; i < variant.din.size(); ++i)
        if (variant.din[i].defined())
          expect_same_values(variant.din[i], baseline.din[i],
                             label + "gradient of '" + c().inputs[i].name + "'");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Table, OpCaseTest, ::testing::Range<size_t>(0, cases().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return test_name(cases()[info.param].name);
                         });

}  // namespace
}  // namespace autonet::test
