// Meters and classifier evaluation.
#include "run/evaluation.h"

#include <optional>
#include <vector>

#include "autograd/functions.h"
#include "runtime/error.h"

namespace autonet::run {

int64_t count_top_k(const Tensor& logits, const Tensor& labels, int64_t top) {
  AN_CHECK(logits.dim() == 2 && labels.dim() == 1 && labels.size(0) == logits.size(0))
      << "count_top_k expects logits [N, K] and labels [N], got " << logits.describe() << " and "
      << labels.describe();
  const std::vector<double> z = logits.to(Device::cpu()).to(DType::f64).to_vector<double>();
  const std::vector<int64_t> y = labels.to(Device::cpu()).to_vector<int64_t>();
  const int64_t n = logits.size(0), k = logits.size(1);
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    // The label's rank: classes scoring higher, or equal and earlier.
    const double* row = &z[i * k];
    int64_t ahead = 0;
    for (int64_t j = 0; j < k; ++j)
      ahead += row[j] > row[y[i]] || (row[j] == row[y[i]] && j < y[i]);
    correct += ahead < top;
  }
  return correct;
}

int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  return count_top_k(logits, labels, 1);
}

EvalResult evaluate(const std::function<Variable(const Variable&)>& forward, data::Loader& loader) {
  NoGradGuard no_grad;
  Meter meter;
  int64_t top5 = 0;
  while (std::optional<data::Batch> b = loader.next()) {
    const Variable logits = forward(Variable(b->images));
    const double loss = cross_entropy(logits, b->labels).value().item();
    meter.add(loss, count_correct(logits.value(), b->labels), b->labels.numel());
    top5 += count_top_k(logits.value(), b->labels, 5);
  }
  return {meter.loss(), meter.accuracy(), meter.count,
          meter.count > 0 ? static_cast<double>(top5) / static_cast<double>(meter.count) : 0.0};
}

}  // namespace autonet::run
