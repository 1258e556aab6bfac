// Drop path over the batch axis, built on the axpby and fill kernels.
#include "darts/cnn/drop_path.h"

#include "kernels/elementwise.h"
#include "runtime/error.h"

namespace autonet::darts {
namespace {

// out = in · m_n / keep, sample by sample; dropped samples come in runs, each one fill.
void apply_mask(const Tensor& in, Tensor& out, const std::vector<bool>& mask, double keep) {
  axpby(1.0 / keep, in, 0.0, out);
  const int64_t n = static_cast<int64_t>(mask.size());
  for (int64_t begin = 0; begin < n;) {
    if (mask[begin]) {
      ++begin;
      continue;
    }
    int64_t end = begin;
    while (end < n && !mask[end]) ++end;
    Tensor dropped = out.slice(0, begin, end);
    fill(dropped, 0.0);
    begin = end;
  }
}

}  // namespace

std::vector<bool> drop_path_mask(int64_t samples, double drop_prob, const PhiloxKey& key) {
  AN_CHECK(drop_prob >= 0.0 && drop_prob < 1.0)
      << "drop_path: probability must be in [0, 1), got " << drop_prob;
  const float keep = static_cast<float>(1.0 - drop_prob);
  std::vector<bool> mask(samples);
  for (int64_t n = 0; n < samples; ++n) mask[n] = philox_uniform(key, n) < keep;
  return mask;
}

Variable drop_path(const Variable& x, double drop_prob, const PhiloxKey& key) {
  if (drop_prob == 0.0) return x;
  AN_CHECK(x.dim() >= 1 && x.value().is_contiguous())
      << "drop_path expects a contiguous [N, ...] tensor, got " << x.value().describe();
  const std::vector<bool> mask = drop_path_mask(x.size(0), drop_prob, key);
  const double keep = 1.0 - drop_prob;
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  apply_mask(x.value(), y, mask, keep);
  const TensorSpec spec = TensorSpec::of(x.value());
  return make_result("drop_path", y, {x}, [=](const Tensor& dy, const SlotList& in) {
    if (!in[0]->requires_grad) return;
    GradTarget target(*in[0], spec);
    apply_mask(dy, target.tensor, mask, keep);
    target.finish();
  });
}

}  // namespace autonet::darts
