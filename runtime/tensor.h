// Tensor: a typed, shaped, strided view into refcounted Storage on the CPU or a CUDA device.
//
// Row-major strides; NCHW for images, time-major T×B×D for sequences. Views (view, slice) share
// storage and carry an element offset. Kernels take contiguous tensors (a view with an offset is
// fine) and say so in their checks.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/device.h"
#include "runtime/dtype.h"
#include "runtime/error.h"
#include "runtime/shape.h"

namespace autonet {

std::string shape_str(const Shape& shape);
int64_t shape_numel(const Shape& shape);

class Storage {
 public:
  Storage(size_t bytes, Device device, bool pinned = false);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }
  bool pinned() const { return pinned_; }
  // Names the storage's producer for a running memory census (runtime/memory_census.h); the
  // first name stays. `label` must outlive the census (a string literal).
  void label(const char* label) const;

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
  bool pinned_ = false;
  bool counted_ = false;  // by the memory census running when it was created
};

class Tensor {
 public:
  Tensor() = default;  // undefined tensor

  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu(),
                      bool pinned = false);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
                     Device device = Device::cpu());
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape,
                            Device device = Device::cpu());

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device() : Device::cpu(); }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return shape_numel(shape_); }
  int64_t offset() const { return offset_; }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  std::string shape_str() const { return autonet::shape_str(shape_); }
  std::string describe() const;  // "f32[64, 16, 32, 32] on cuda:0"

  // Pointer to the first element; checks that T matches the dtype.
  template <class T>
  T* data() const {
    AN_CHECK(dtype_of<T>() == dtype_) << "tensor holds " << dtype_name(dtype_) << ", accessed as "
                                      << dtype_name(dtype_of<T>());
    return static_cast<T*>(raw_data());
  }
  void* raw_data() const;

  // Views sharing storage.
  Tensor view(const Shape& shape) const;  // contiguous only; one -1 is inferred
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;  // drops `dim`

  // Copies.
  Tensor contiguous() const;  // itself when already contiguous
  Tensor clone() const;
  Tensor to(Device device) const;  // itself when already there
  Tensor to(DType dtype) const;    // element conversion (host round trip for CUDA tensors)
  void copy_from(const Tensor& src);  // same shape and dtype; any devices
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }

  template <class T>
  std::vector<T> to_vector() const;
  double item() const;  // single-element tensor as double

 private:
  std::shared_ptr<Storage> storage_;
  Shape shape_, strides_;
  int64_t offset_ = 0;  // in elements
  DType dtype_ = DType::f32;
};

Shape contiguous_strides(const Shape& shape);

// Checks used by kernel entries; each throws naming `what` and the offending tensor.
void check_defined(const Tensor& t, const char* what);
void check_contiguous(const Tensor& t, const char* what);
void check_dtype(const Tensor& t, DType dtype, const char* what);
void check_float(const Tensor& t, const char* what);
void check_shape(const Tensor& t, const Shape& shape, const char* what);
void check_same_device(const Tensor& a, const Tensor& b, const char* what);
void check_same_dtype(const Tensor& a, const Tensor& b, const char* what);
void check_dim(const Tensor& t, int64_t dim, const char* what);
// t is a contiguous float tensor of `dim` dimensions.
void check_float_tensor(const Tensor& t, int64_t dim, const char* what);
// t is contiguous, of ref's dtype and on ref's device (a mismatch names ref first).
void check_matches(const Tensor& t, const Tensor& ref, const char* what);
// ... and of `shape`.
void check_matches(const Tensor& t, const Tensor& ref, const Shape& shape, const char* what);
// An optional operand (an undefined gradient: skipped): checked like ref when defined.
void check_matches_if_defined(const Tensor& t, const Tensor& ref, const Shape& shape,
                           const char* what);
// An axis counted from the end when negative, checked against `dim` dimensions: 0 ≤ result < dim.
int64_t normalize_axis(int64_t axis, int64_t dim, const char* what);
// True when a and b (both defined) share bytes of one storage.
bool overlaps(const Tensor& a, const Tensor& b);

// Random fills on the host from Philox (then copied to the device): reproducible from the seed.
void fill_uniform(Tensor& t, double low, double high, uint64_t seed, uint32_t stream = 0);
void fill_normal(Tensor& t, double mean, double stddev, uint64_t seed, uint32_t stream = 0);

}  // namespace autonet
