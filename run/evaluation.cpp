// Meters and classifier evaluation.
#include "run/evaluation.h"

#include <optional>
#include <vector>

#include "autograd/functions.h"
#include "runtime/error.h"

namespace autonet::run {

int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  AN_CHECK(logits.dim() == 2 && labels.dim() == 1 && labels.size(0) == logits.size(0))
      << "count_correct expects logits [N, K] and labels [N], got " << logits.describe() << " and "
      << labels.describe();
  const std::vector<double> z = logits.to(Device::cpu()).to(DType::f64).to_vector<double>();
  const std::vector<int64_t> y = labels.to(Device::cpu()).to_vector<int64_t>();
  const int64_t n = logits.size(0), k = logits.size(1);
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t best = 0;
    for (int64_t j = 1; j < k; ++j)
      if (z[i * k + j] > z[i * k + best]) best = j;
    correct += best == y[i];
  }
  return correct;
}

EvalResult evaluate(const std::function<Variable(const Variable&)>& forward, data::Loader& loader) {
  NoGradGuard no_grad;
  Meter meter;
  while (std::optional<data::Batch> b = loader.next()) {
    const Variable logits = forward(Variable(b->images));
    const double loss = cross_entropy(logits, b->labels).value().item();
    meter.add(loss, count_correct(logits.value(), b->labels), b->labels.numel());
  }
  return {meter.loss(), meter.accuracy(), meter.count};
}

}  // namespace autonet::run
