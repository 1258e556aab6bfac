// Embedding lookup.
#include "autograd/function_util.h"
#include "autograd/functions.h"
#include "kernels/embedding.h"

namespace autonet {
using namespace detail;

Variable embedding(const Variable& weight, const Tensor& ids) {
  AN_CHECK(weight.dim() == 2) << "embedding weight must be [V, D], got "
                              << weight.value().describe();
  Shape out_shape = ids.shape();
  out_shape.push_back(weight.size(1));
  Tensor out = empty_as(out_shape, weight.value());
  embedding_forward(weight.value(), ids, out);
  const TensorSpec w_spec = TensorSpec::of(weight.value());
  return make_result("embedding", out, {weight}, [=](const Tensor& dout, const SlotList& in) {
    Tensor dweight = accumulate_target(*in[0], w_spec);
    if (dweight.defined()) embedding_backward(ids, dout, dweight);
  });
}

}  // namespace autonet
