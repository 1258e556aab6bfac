// Shape: a tensor's sizes (or strides), up to kMaxDims of them, stored inline.
//
// Every Tensor carries two (its shape and strides) and a step copies tensors thousands of times,
// so a heap vector cost two allocations per copy: ~100,000 mallocs per small recurrent step
// (docs/performance.md). The interface is std::vector's, as far as the runtime uses it.
#pragma once
#include <algorithm>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <vector>

namespace autonet {

class Shape {
 public:
  // DARTS needs at most 5 (a stencil group's [K, N, C, H, W]); PyTorch allows 64, cuDNN 8.
  static constexpr size_t kMaxDims = 8;

  using value_type = int64_t;
  using size_type = size_t;
  using difference_type = std::ptrdiff_t;
  using reference = int64_t&;
  using const_reference = const int64_t&;
  using pointer = int64_t*;
  using const_pointer = const int64_t*;
  using iterator = int64_t*;
  using const_iterator = const int64_t*;

  Shape() = default;
  explicit Shape(size_t count, int64_t value = 0) { assign(count, value); }
  Shape(std::initializer_list<int64_t> dims) : Shape(dims.begin(), dims.end()) {}
  template <std::input_iterator It>
  Shape(It first, It last) {
    for (; first != last; ++first) push_back(static_cast<int64_t>(*first));
  }
  explicit Shape(const std::vector<int64_t>& dims) : Shape(dims.begin(), dims.end()) {}

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  int64_t* data() { return dims_; }
  const int64_t* data() const { return dims_; }
  int64_t& operator[](size_t i) { return dims_[i]; }
  const int64_t& operator[](size_t i) const { return dims_[i]; }
  int64_t& at(size_t i) {
    check_index(i);
    return dims_[i];
  }
  const int64_t& at(size_t i) const {
    check_index(i);
    return dims_[i];
  }
  int64_t& front() { return dims_[0]; }
  const int64_t& front() const { return dims_[0]; }
  int64_t& back() { return dims_[size_ - 1]; }
  const int64_t& back() const { return dims_[size_ - 1]; }

  iterator begin() { return dims_; }
  iterator end() { return dims_ + size_; }
  const_iterator begin() const { return dims_; }
  const_iterator end() const { return dims_ + size_; }
  const_iterator cbegin() const { return dims_; }
  const_iterator cend() const { return dims_ + size_; }

  void push_back(int64_t dim) {
    check_room(size_ + 1);
    dims_[size_++] = dim;
  }
  void pop_back() { --size_; }
  void clear() { size_ = 0; }
  void resize(size_t count, int64_t value = 0) {
    check_room(count);
    for (size_t i = size_; i < count; ++i) dims_[i] = value;
    size_ = static_cast<uint8_t>(count);
  }
  void assign(size_t count, int64_t value) {
    size_ = 0;
    resize(count, value);
  }
  iterator insert(const_iterator pos, int64_t dim) {
    const size_t at = static_cast<size_t>(pos - dims_);
    check_room(size_ + 1);
    std::copy_backward(dims_ + at, dims_ + size_, dims_ + size_ + 1);
    dims_[at] = dim;
    ++size_;
    return dims_ + at;
  }
  template <std::forward_iterator It>
  iterator insert(const_iterator pos, It first, It last) {
    const size_t at = static_cast<size_t>(pos - dims_);
    const size_t count = static_cast<size_t>(std::distance(first, last));
    check_room(size_ + count);
    std::copy_backward(dims_ + at, dims_ + size_, dims_ + size_ + count);
    std::copy(first, last, dims_ + at);  // [first, last) not in this shape, as for a vector
    size_ += static_cast<uint8_t>(count);
    return dims_ + at;
  }
  iterator erase(const_iterator pos) {
    const size_t at = static_cast<size_t>(pos - dims_);
    std::copy(dims_ + at + 1, dims_ + size_, dims_ + at);
    --size_;
    return dims_ + at;
  }

  std::vector<int64_t> to_vector() const { return {begin(), end()}; }

  friend bool operator==(const Shape& a, const Shape& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }
  friend std::strong_ordering operator<=>(const Shape& a, const Shape& b) {
    return std::lexicographical_compare_three_way(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  // Out of line (runtime/tensor.cpp): they throw autonet::Error, naming the shape.
  void check_room(size_t count) const;
  void check_index(size_t i) const;

  int64_t dims_[kMaxDims] = {};
  uint8_t size_ = 0;
};

}  // namespace autonet
