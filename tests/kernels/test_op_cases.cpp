// The generic runner: every check of DESIGN.md §5 applied to every row of the op-case table.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "runtime/philox.h"
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
  c.backward(in, out, dout, b.din);
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

std::string test_name(const std::string& name) {
  std::string s;
  for (char ch : name) s += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return s;
}

class OpCaseTest : public ::testing::TestWithParam<size_t> {
 protected:
  const OpCase& c() const { return cases()[GetParam()]; }
  static Device cuda_or_skip_reason(std::string* why) {
    return cuda_available(why) ? Device::cuda(0) : Device::cpu();
  }
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
  for (size_t k = 0; k < c.outputs.size(); ++k)
    expect_close(out_gpu[k], out_cpu[k], atol, rtol,
                 c.name + " CUDA output '" + c.outputs[k].name + "' (" + c.why + ")");
  if (!c.backward) return;
  const Tensors dout = make_output_grads(c, DType::f32, 12, integers);
  const Tensors start = random_accumulate_start(c, DType::f32, 13, integers);
  GradBuffers g_cpu = make_grad_buffers(c, DType::f32, Device::cpu(), start);
  GradBuffers g_gpu = make_grad_buffers(c, DType::f32, gpu, start);
  run_backward(c, in, out_cpu, dout, g_cpu, Device::cpu());
  run_backward(c, in_gpu, out_gpu, to_device(dout, gpu), g_gpu, gpu);
  for (size_t i = 0; i < c.inputs.size(); ++i)
    if (c.inputs[i].differentiable)
      expect_close(g_gpu.din[i], g_cpu.din[i], atol, rtol,
                   c.name + " CUDA gradient of '" + c.inputs[i].name + "' (" + c.why + ")");
}

TEST_P(OpCaseTest, CudaMatchesCpuOnRandomInputs) { run_parity(c(), false); }

TEST_P(OpCaseTest, CudaMatchesCpuExactlyOnSmallIntegers) {
  if (!c().exact_on_integers) GTEST_SKIP() << c().name << ": sums are not exact for this op";
  run_parity(c(), true);
}

INSTANTIATE_TEST_SUITE_P(Table, OpCaseTest, ::testing::Range<size_t>(0, cases().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return test_name(cases()[info.param].name);
                         });

}  // namespace
}  // namespace autonet::test
