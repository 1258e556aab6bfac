// ParameterStore: every trained parameter of a model is a named view into ONE flat weight buffer
// and ONE flat gradient buffer (DESIGN.md §4), so optimizer steps, zero-grad, grad-norm clipping
// and DARTS' w ± ξ·g perturbations are single kernels over a flat tensor. DARTS' α live in their
// own store (their own flat pair).
//
// Names follow the official PyTorch modules (`cells.3._ops.5.op.1.weight`) so checkpoints can be
// compared with the reference models. Creation order is preserved everywhere.
//
// Buffers that are not trained (BN running statistics) are registered apart: named, checkpointed,
// moved by to(), without a gradient, and views into a third flat tensor of their own, so DARTS'
// second-order step saves and restores all of them with one copy each way.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "autograd/variable.h"

namespace autonet {

// How a new parameter or buffer is filled. Random fills draw from Philox keyed by the store's seed
// and the entry's creation index, so a model is reproducible from its seed.
struct Init {
  enum class Kind { zeros, constant, uniform, normal };
  Kind kind = Kind::zeros;
  double a = 0.0, b = 0.0;  // constant: a; uniform: [a, b); normal: mean a, stddev b

  static Init zeros() { return {}; }
  static Init constant(double value) { return {Kind::constant, value, 0.0}; }
  static Init uniform(double low, double high) { return {Kind::uniform, low, high}; }
  static Init normal(double mean, double stddev) { return {Kind::normal, mean, stddev}; }
};

class ParameterStore {
 public:
  struct Entry {
    std::string name;
    Variable var;
    bool is_buffer = false;
    int64_t offset = -1;  // element offset into the flat weights, or into the flat buffers
  };

  explicit ParameterStore(uint64_t seed = 0, DType dtype = DType::f32,
                          Device device = Device::cpu());
  ParameterStore(const ParameterStore&) = delete;
  ParameterStore& operator=(const ParameterStore&) = delete;

  // A trained parameter: its value and grad are views into the flat buffers. Names are unique.
  Variable add_parameter(const std::string& name, const Shape& shape, const Init& init);
  // An untrained named tensor (no gradient), e.g. `cells.0.preprocess0.op.2.running_mean`.
  Variable add_buffer(const std::string& name, const Shape& shape, const Init& init);

  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  Variable parameter(const std::string& name) const;  // throws if absent or a buffer
  Variable buffer(const std::string& name) const;     // throws if absent or a parameter
  const std::vector<Entry>& entries() const { return entries_; }  // creation order
  std::vector<std::pair<std::string, Variable>> named_parameters() const;
  // Parameters and buffers in creation order, for checkpoints.
  std::vector<std::pair<std::string, Tensor>> named_tensors() const;

  // The flat buffers, 1-D. Each parameter starts at a multiple of kAlignment elements, so they
  // also hold a little zero padding (which stays zero under every optimizer). The views stay valid
  // until the next add_parameter or to().
  Tensor weights() const { return weights_.slice(0, 0, used_); }
  Tensor grads() const { return grads_.slice(0, 0, used_); }
  // Every buffer, 1-D, back to back in creation order (no padding); valid until the next
  // add_buffer or to().
  Tensor buffers() const { return buffers_.slice(0, 0, buffers_used_); }
  void zero_grad();  // one fill kernel over the flat gradient buffer

  int64_t num_parameters() const { return num_parameters_; }  // Σ numel, without padding
  int64_t num_parameter_tensors() const { return num_parameter_tensors_; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  uint64_t seed() const { return seed_; }

  // Moves the flat pair and every buffer to `device`; every Variable handed out follows.
  void to(Device device);

  static constexpr int64_t kAlignment = 16;  // elements: 64 bytes in f32, aligned vector loads

 private:
  void reserve(int64_t elements);
  void rebind_views();
  void initialise(Tensor& t, const Init& init, uint32_t stream) const;
  void add_name(const std::string& name);

  uint64_t seed_;
  DType dtype_;
  Device device_;
  Tensor weights_, grads_;  // 1-D, capacity elements
  int64_t used_ = 0;
  Tensor buffers_;          // 1-D, capacity elements
  int64_t buffers_used_ = 0;
  int64_t num_parameters_ = 0, num_parameter_tensors_ = 0;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace autonet
