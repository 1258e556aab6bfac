#include "runtime/tensor.h"

#include <cmath>
#include <cstring>
#include <sstream>

#include "runtime/allocator.h"
#include "runtime/host_sync_guard.h"
#include "runtime/memory_census.h"
#include "runtime/op_profile.h"
#include "runtime/philox.h"
#include "runtime/side_stream.h"
#if AUTONET_WITH_CUDA
#include "runtime/cuda_context.h"
#endif

namespace autonet {

void Shape::check_room(size_t count) const {
  AN_CHECK(count <= kMaxDims) << "a shape has at most " << kMaxDims << " dimensions; "
                              << shape_str(*this) << " would have " << count;
}

void Shape::check_index(size_t i) const {
  AN_CHECK(i < size_) << "dimension " << i << " of shape " << shape_str(*this) << " ("
                      << static_cast<size_t>(size_) << " dimensions)";
}

std::string shape_str(const Shape& shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i] > 0 ? shape[i] : 1;
  }
  return strides;
}

// ---------------------------------------------------------------------------------------------
// Storage

Storage::Storage(size_t bytes, Device device, bool pinned)
    : bytes_(bytes), device_(device), pinned_(pinned) {
  if (device.is_cpu()) {
    data_ = host_allocate(bytes, pinned);
  } else {
    AN_CHECK(built_with_cuda()) << "autonet was built without CUDA; cannot allocate on "
                                << device.str();
    std::string why;
    AN_CHECK(cuda_available(&why)) << "cannot allocate on " << device.str() << ": " << why;
    data_ = cuda_allocate(bytes, device.index);
  }
  if (memory_census_counts(device)) {
    memory_census_add(this, bytes);
    counted_ = true;
  }
}

void Storage::label(const char* label) const {
  if (counted_) memory_census_label(this, label);
}

Storage::~Storage() {
  if (counted_) memory_census_remove(this);
  if (device_.is_cpu()) {
    host_release(data_, bytes_, pinned_);
  } else {
    cuda_release(data_, device_.index);
  }
}

// ---------------------------------------------------------------------------------------------
// Byte copies between devices

namespace {

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (bytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, bytes);
    return;
  }
  // The step profile: a copy between host and device is a transfer (Tensor::copy_from counts
  // copies within one device as launches).
  if (OpProfile* profile = OpProfile::active(); profile && dst_device != src_device)
    profile->add_transfer(static_cast<int64_t>(bytes));
#if AUTONET_WITH_CUDA
  const Device on = dst_device.is_cuda() ? dst_device : src_device;
  // A copy the host waits for waits for side work too (a weight gradient read on the host); one
  // within the device goes where this thread's kernels go.
  const bool host = dst_device.is_cpu() || src_device.is_cpu();
  if (host) join_side_work(on);
  cudaStream_t stream = host ? cuda::compute_stream(on) : cuda::stream(on);
  AN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream));
  // Copies that touch the host are synchronous so the caller may read or free host memory.
  if (dst_device.is_cpu() || src_device.is_cpu()) AN_CUDA_CHECK(cudaStreamSynchronize(stream));
#else
  AN_THROW() << "autonet was built without CUDA";
#endif
}

// Calls fn(dst_index, src_index) in element units for every element of a strided view, row-major.
template <class Fn>
void for_each_strided(const Shape& shape, const Shape& strides, int64_t offset, Fn fn) {
  const int64_t n = shape_numel(shape);
  if (n == 0) return;
  std::vector<int64_t> index(shape.size(), 0);
  int64_t src = offset;
  for (int64_t i = 0; i < n; ++i) {
    fn(i, src);
    for (size_t d = shape.size(); d-- > 0;) {
      if (++index[d] < shape[d]) {
        src += strides[d];
        break;
      }
      src -= strides[d] * (shape[d] - 1);
      index[d] = 0;
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Tensor

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device, bool pinned) {
  for (int64_t s : shape) AN_CHECK(s >= 0) << "negative size in shape " << autonet::shape_str(shape);
  Tensor t;
  t.storage_ = std::make_shared<Storage>(shape_numel(shape) * dtype_size(dtype), device, pinned);
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.zero_();
  return t;
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  AN_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape))
      << values.size() << " values do not fill shape " << autonet::shape_str(shape);
  check_no_host_sync("Tensor::from_vector");
  Tensor t = empty(shape, dtype_of<T>(), device);
  copy_bytes(t.raw_data(), device, values.data(), Device::cpu(), values.size() * sizeof(T));
  return t;
}

int64_t Tensor::size(int64_t d) const {
  const int64_t k = d < 0 ? d + dim() : d;
  AN_CHECK(k >= 0 && k < dim()) << "dimension " << d << " out of range for shape " << shape_str();
  return shape_[k];
}

bool Tensor::is_contiguous() const { return strides_ == contiguous_strides(shape_); }

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  return std::string(dtype_name(dtype_)) + shape_str() + " on " + device().str();
}

void* Tensor::raw_data() const {
  AN_CHECK(defined()) << "access to an undefined tensor";
  return static_cast<char*>(storage_->data()) + offset_ * dtype_size(dtype_);
}

Tensor Tensor::view(const Shape& shape) const {
  AN_CHECK(is_contiguous()) << "view() of a non-contiguous tensor " << describe();
  Shape resolved = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < resolved.size(); ++i) {
    if (resolved[i] == -1) {
      AN_CHECK(infer < 0) << "view " << autonet::shape_str(shape) << " has more than one -1";
      infer = static_cast<int64_t>(i);
    } else {
      known *= resolved[i];
    }
  }
  if (infer >= 0) {
    AN_CHECK(known > 0 && numel() % known == 0)
        << "cannot view " << describe() << " as " << autonet::shape_str(shape);
    resolved[infer] = numel() / known;
  }
  AN_CHECK(shape_numel(resolved) == numel())
      << "cannot view " << describe() << " as " << autonet::shape_str(shape);
  Tensor t = *this;
  t.shape_ = resolved;
  t.strides_ = contiguous_strides(resolved);
  return t;
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  const int64_t k = d < 0 ? d + dim() : d;
  AN_CHECK(k >= 0 && k < dim()) << "slice dimension " << d << " out of range for " << describe();
  AN_CHECK(step >= 1) << "slice step must be >= 1, got " << step;
  AN_CHECK(0 <= start && start <= end && end <= shape_[k])
      << "slice [" << start << ", " << end << ") out of range for dimension " << k << " of "
      << describe();
  Tensor t = *this;
  t.offset_ += start * strides_[k];
  t.shape_[k] = (end - start + step - 1) / step;
  t.strides_[k] *= step;
  return t;
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  const int64_t k = d < 0 ? d + dim() : d;
  Tensor t = slice(k, index, index + 1);
  t.shape_.erase(t.shape_.begin() + k);
  t.strides_.erase(t.strides_.begin() + k);
  return t;
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape_, dtype_, device());
  out.copy_from(*this);
  return out;
}

Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  Tensor out = empty(shape_, dtype_, target);
  out.copy_from(*this);
  return out;
}

namespace {
template <class Dst, class Src>
void convert(const Src* src, Dst* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<Dst>(src[i]);
}

template <class Fn>
void dispatch_any(DType t, Fn fn) {
  switch (t) {
    case DType::f32: return fn(float{});
    case DType::f64: return fn(double{});
    case DType::i32: return fn(int32_t{});
    case DType::i64: return fn(int64_t{});
    case DType::u8: return fn(uint8_t{});
  }
}
}  // namespace

Tensor Tensor::to(DType target) const {
  if (target == dtype_) return *this;
  check_no_host_sync("Tensor::to(dtype)");  // converted on the host
  const Tensor host = to(Device::cpu()).contiguous();
  Tensor out = empty(shape_, target, Device::cpu());
  dispatch_any(dtype_, [&](auto src_tag) {
    using Src = decltype(src_tag);
    dispatch_any(target, [&](auto dst_tag) {
      using Dst = decltype(dst_tag);
      convert(host.data<Src>(), out.data<Dst>(), numel());
    });
  });
  return out.to(device());
}

void Tensor::copy_from(const Tensor& src) {
  AN_CHECK(defined() && src.defined()) << "copy_from with an undefined tensor";
  AN_CHECK(shape_ == src.shape_) << "copy_from: shape " << src.shape_str() << " into "
                                 << shape_str();
  AN_CHECK(dtype_ == src.dtype_) << "copy_from: dtype " << dtype_name(src.dtype_) << " into "
                                 << dtype_name(dtype_) << " (use to(dtype) first)";
  if (device() != src.device()) check_no_host_sync("Tensor::copy_from between devices");
  if (is_contiguous() && src.is_contiguous()) {
    if (device() == src.device() && nbytes() > 0) {
      const int64_t bytes = static_cast<int64_t>(nbytes());
      count_op("tensor_copy", [&] { return OpCost{1, bytes, bytes, 0}; });
    }
    copy_bytes(raw_data(), device(), src.raw_data(), src.device(), nbytes());
    return;
  }
  // Strided copies go through host memory: a slow path kept off hot loops (kernels/ has concat and
  // slice kernels for those).
  check_no_host_sync("Tensor::copy_from of a strided view");
  const size_t esize = dtype_size(dtype_);
  std::vector<char> src_host(src.storage_->bytes());
  copy_bytes(src_host.data(), Device::cpu(), src.storage_->data(), src.device(),
             src.storage_->bytes());
  std::vector<char> dst_host(storage_->bytes());
  copy_bytes(dst_host.data(), Device::cpu(), storage_->data(), device(), storage_->bytes());
  std::vector<char> packed(nbytes());
  for_each_strided(src.shape_, src.strides_, src.offset_, [&](int64_t i, int64_t s) {
    std::memcpy(packed.data() + i * esize, src_host.data() + s * esize, esize);
  });
  for_each_strided(shape_, strides_, offset_, [&](int64_t i, int64_t d) {
    std::memcpy(dst_host.data() + d * esize, packed.data() + i * esize, esize);
  });
  copy_bytes(storage_->data(), device(), dst_host.data(), Device::cpu(), storage_->bytes());
}

Tensor& Tensor::fill_(double value) {
  AN_CHECK(defined()) << "fill_ of an undefined tensor";
  check_no_host_sync("Tensor::fill_ (kernels' fill() stays on the device)");
  // On the host in place; for a device, filled on the host and transferred (kernels' fill() stays
  // on the device).
  const bool direct = device().is_cpu() && is_contiguous();
  Tensor host = direct ? *this : empty(shape_, dtype_, Device::cpu());
  dispatch_any(dtype_, [&](auto tag) {
    using T = decltype(tag);
    T* p = host.data<T>();
    for (int64_t i = 0; i < numel(); ++i) p[i] = static_cast<T>(value);
  });
  if (!direct) copy_from(host);
  return *this;
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  check_no_host_sync("Tensor::to_vector");
  const Tensor host = to(Device::cpu()).contiguous();
  const T* p = host.data<T>();
  return std::vector<T>(p, p + numel());
}

double Tensor::item() const {
  AN_CHECK(numel() == 1) << "item() of " << describe() << ": needs exactly one element";
  check_no_host_sync("Tensor::item");
  double result = 0;
  const Tensor host = to(Device::cpu()).contiguous();
  dispatch_any(dtype_, [&](auto tag) {
    using T = decltype(tag);
    result = static_cast<double>(*host.data<T>());
  });
  return result;
}

#define AN_INSTANTIATE(T)                                                                   \
  template Tensor Tensor::from_vector<T>(const std::vector<T>&, const Shape&, Device); \
  template std::vector<T> Tensor::to_vector<T>() const;
AN_INSTANTIATE(float)
AN_INSTANTIATE(double)
AN_INSTANTIATE(int32_t)
AN_INSTANTIATE(int64_t)
AN_INSTANTIATE(uint8_t)
#undef AN_INSTANTIATE

// ---------------------------------------------------------------------------------------------
// Checks

void check_defined(const Tensor& t, const char* what) {
  AN_CHECK(t.defined()) << what << ": tensor is undefined";
}
void check_contiguous(const Tensor& t, const char* what) {
  check_defined(t, what);
  AN_CHECK(t.is_contiguous()) << what << ": expected a contiguous tensor, got " << t.describe();
}
void check_dtype(const Tensor& t, DType dtype, const char* what) {
  check_defined(t, what);
  AN_CHECK(t.dtype() == dtype) << what << ": expected " << dtype_name(dtype) << ", got "
                               << t.describe();
}
void check_float(const Tensor& t, const char* what) {
  check_defined(t, what);
  AN_CHECK(dtype_is_float(t.dtype())) << what << ": expected f32 or f64, got " << t.describe();
}
void check_shape(const Tensor& t, const Shape& shape, const char* what) {
  check_defined(t, what);
  AN_CHECK(t.shape() == shape) << what << ": expected shape " << shape_str(shape) << ", got "
                               << t.describe();
}
void check_same_device(const Tensor& a, const Tensor& b, const char* what) {
  AN_CHECK(a.device() == b.device()) << what << ": tensors on different devices: " << a.describe()
                                     << " and " << b.describe();
}
void check_same_dtype(const Tensor& a, const Tensor& b, const char* what) {
  AN_CHECK(a.dtype() == b.dtype()) << what << ": dtypes differ: " << a.describe() << " and "
                                   << b.describe();
}
void check_dim(const Tensor& t, int64_t dim, const char* what) {
  check_defined(t, what);
  AN_CHECK(t.dim() == dim) << what << ": expected " << dim << " dimensions, got " << t.describe();
}
void check_float_tensor(const Tensor& t, int64_t dim, const char* what) {
  check_contiguous(t, what);
  check_float(t, what);
  check_dim(t, dim, what);
}
void check_matches(const Tensor& t, const Tensor& ref, const char* what) {
  check_contiguous(t, what);
  check_same_dtype(ref, t, what);
  check_same_device(ref, t, what);
}
void check_matches(const Tensor& t, const Tensor& ref, const Shape& shape, const char* what) {
  check_matches(t, ref, what);
  check_shape(t, shape, what);
}
void check_matches_if_defined(const Tensor& t, const Tensor& ref, const Shape& shape,
                           const char* what) {
  if (t.defined()) check_matches(t, ref, shape, what);
}

int64_t normalize_axis(int64_t axis, int64_t dim, const char* what) {
  AN_CHECK(axis >= -dim && axis < dim) << what << ": axis " << axis << " out of range for "
                                       << dim << " dimensions";
  return axis < 0 ? axis + dim : axis;
}

bool overlaps(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined() || a.storage() != b.storage() || a.numel() == 0 ||
      b.numel() == 0)
    return false;
  const int64_t a0 = a.offset() * static_cast<int64_t>(dtype_size(a.dtype()));
  const int64_t b0 = b.offset() * static_cast<int64_t>(dtype_size(b.dtype()));
  const int64_t a1 = a0 + static_cast<int64_t>(a.nbytes()), b1 = b0 + static_cast<int64_t>(b.nbytes());
  return a0 < b1 && b0 < a1;
}

// ---------------------------------------------------------------------------------------------
// Random fills

namespace {
template <class Gen>
void fill_host(Tensor& t, Gen gen) {
  check_float(t, "fill_random");
  Tensor host = Tensor::empty(t.shape(), t.dtype(), Device::cpu());
  dispatch_float(t.dtype(), "fill_random", [&]<class scalar_t>() {
    scalar_t* p = host.data<scalar_t>();
    for (int64_t i = 0; i < host.numel(); ++i) p[i] = static_cast<scalar_t>(gen(i));
  });
  check_no_host_sync("fill_random (filled on the host)");
  t.copy_from(host);
}
}  // namespace

void fill_uniform(Tensor& t, double low, double high, uint64_t seed, uint32_t stream) {
  const PhiloxKey key{seed, stream, 0};
  fill_host(t, [&](int64_t i) { return low + (high - low) * philox_uniform(key, i); });
}

void fill_normal(Tensor& t, double mean, double stddev, uint64_t seed, uint32_t stream) {
  const PhiloxKey key{seed, stream, 0};
  fill_host(t, [&](int64_t i) {
    // Box-Muller on two independent uniforms; 1 - u keeps the log argument in (0, 1].
    const double u1 = 1.0 - philox_uniform(key, 2 * i);
    const double u2 = philox_uniform(key, 2 * i + 1);
    return mean + stddev * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  });
}

}  // namespace autonet
