#include "autograd/parameters.h"

#include <algorithm>

#include "kernels/elementwise.h"

namespace autonet {

ParameterStore::ParameterStore(uint64_t seed, DType dtype, Device device)
    : seed_(seed), dtype_(dtype), device_(device) {
  AN_CHECK(dtype_is_float(dtype)) << "ParameterStore holds float parameters, got "
                                  << dtype_name(dtype);
  weights_ = Tensor::zeros({0}, dtype_, device_);
  grads_ = Tensor::zeros({0}, dtype_, device_);
  buffers_ = Tensor::zeros({0}, dtype_, device_);
}

void ParameterStore::add_name(const std::string& name) {
  AN_CHECK(!name.empty()) << "parameter names must not be empty";
  AN_CHECK(!contains(name)) << "'" << name << "' is already registered";
  index_[name] = entries_.size();
}

void ParameterStore::initialise(Tensor& t, const Init& init, uint32_t stream) const {
  switch (init.kind) {
    case Init::Kind::zeros: fill(t, 0.0); break;
    case Init::Kind::constant: fill(t, init.a); break;
    case Init::Kind::uniform: fill_uniform(t, init.a, init.b, seed_, stream); break;
    case Init::Kind::normal: fill_normal(t, init.a, init.b, seed_, stream); break;
  }
}

// Grows the flat pair geometrically (like a vector), so building a model of n parameters costs
// O(total size) copies; the views are rebound after each move.
void ParameterStore::reserve(int64_t elements) {
  const int64_t capacity = weights_.numel();
  if (elements <= capacity) return;
  const int64_t grown = std::max(elements, 2 * capacity);
  Tensor weights = Tensor::zeros({grown}, dtype_, device_);
  Tensor grads = Tensor::zeros({grown}, dtype_, device_);
  if (used_ > 0) {
    weights.slice(0, 0, used_).copy_from(weights_.slice(0, 0, used_));
    grads.slice(0, 0, used_).copy_from(grads_.slice(0, 0, used_));
  }
  weights_ = std::move(weights);
  grads_ = std::move(grads);
  rebind_views();
}

void ParameterStore::rebind_views() {
  for (Entry& e : entries_) {
    const Shape shape = e.var.shape();
    const int64_t n = shape_numel(shape);
    if (e.is_buffer) {
      e.var.value() = buffers_.slice(0, e.offset, e.offset + n).view(shape);
      continue;
    }
    e.var.value() = weights_.slice(0, e.offset, e.offset + n).view(shape);
    e.var.grad() = grads_.slice(0, e.offset, e.offset + n).view(shape);
  }
}

Variable ParameterStore::add_parameter(const std::string& name, const Shape& shape,
                                       const Init& init) {
  add_name(name);
  const int64_t n = shape_numel(shape);
  const int64_t offset = (used_ + kAlignment - 1) / kAlignment * kAlignment;
  reserve(offset + n);
  used_ = offset + n;
  Tensor value = weights_.slice(0, offset, offset + n).view(shape);
  initialise(value, init, static_cast<uint32_t>(entries_.size()));
  Variable var = Variable::with_grad_view(value, grads_.slice(0, offset, offset + n).view(shape));
  entries_.push_back({name, var, false, offset});
  num_parameters_ += n;
  ++num_parameter_tensors_;
  return var;
}

Variable ParameterStore::add_buffer(const std::string& name, const Shape& shape,
                                    const Init& init) {
  add_name(name);
  const int64_t n = shape_numel(shape), offset = buffers_used_;
  if (offset + n > buffers_.numel()) {  // grow geometrically, as reserve() does for the weights
    Tensor grown = Tensor::zeros({std::max(offset + n, 2 * buffers_.numel())}, dtype_, device_);
    if (offset > 0) grown.slice(0, 0, offset).copy_from(buffers_.slice(0, 0, offset));
    buffers_ = std::move(grown);
    rebind_views();
  }
  buffers_used_ = offset + n;
  Tensor value = buffers_.slice(0, offset, offset + n).view(shape);
  initialise(value, init, static_cast<uint32_t>(entries_.size()));
  Variable var(value);
  entries_.push_back({name, var, true, offset});
  return var;
}

Variable ParameterStore::parameter(const std::string& name) const {
  auto it = index_.find(name);
  AN_CHECK(it != index_.end()) << "no parameter named '" << name << "'";
  const Entry& e = entries_[it->second];
  AN_CHECK(!e.is_buffer) << "'" << name << "' is a buffer, not a parameter";
  return e.var;
}

Variable ParameterStore::buffer(const std::string& name) const {
  auto it = index_.find(name);
  AN_CHECK(it != index_.end()) << "no buffer named '" << name << "'";
  const Entry& e = entries_[it->second];
  AN_CHECK(e.is_buffer) << "'" << name << "' is a parameter, not a buffer";
  return e.var;
}

std::vector<std::pair<std::string, Variable>> ParameterStore::named_parameters() const {
  std::vector<std::pair<std::string, Variable>> out;
  for (const Entry& e : entries_)
    if (!e.is_buffer) out.emplace_back(e.name, e.var);
  return out;
}

std::vector<std::pair<std::string, Tensor>> ParameterStore::named_tensors() const {
  std::vector<std::pair<std::string, Tensor>> out;
  out.reserve(entries_.size());
  for (const Entry& e : entries_) out.emplace_back(e.name, e.var.value());
  return out;
}

void ParameterStore::zero_grad() {
  if (grads_.numel() > 0) fill(grads_, 0.0);
}

void ParameterStore::to(Device device) {
  if (device == device_) return;
  weights_ = weights_.to(device);
  grads_ = grads_.to(device);
  buffers_ = buffers_.to(device);
  device_ = device;
  rebind_views();
}

}  // namespace autonet
