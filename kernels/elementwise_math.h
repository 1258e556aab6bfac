// Scalar formulas of the elementwise ops, shared by the CPU loops and the CUDA kernels so the two
// twins cannot drift apart.
#pragma once
#include <cmath>
#include <type_traits>

#include "kernels/elementwise.h"
#include "kernels/vector_math.h"
#include "runtime/philox.h"

namespace autonet {

// exp, tanh and sigmoid: a float on the CPU through kernels/vector_math.h (loops that call it
// vectorise); the device's own functions on a GPU, and libm's in double.
template <class T>
AN_HOST_DEVICE T tanh_value(T x) {
#ifndef __CUDA_ARCH__
  if constexpr (std::is_same_v<T, float>) return tanh_f32(x);
#endif
  return std::tanh(x);
}
template <class T>
AN_HOST_DEVICE T exp_value(T x) {
#ifndef __CUDA_ARCH__
  if constexpr (std::is_same_v<T, float>) return exp_f32(x);
#endif
  return std::exp(x);
}
template <class T>
AN_HOST_DEVICE T sigmoid_value(T x) {
#ifndef __CUDA_ARCH__
  if constexpr (std::is_same_v<T, float>) return sigmoid_f32(x);
#endif
  return T(1) / (T(1) + std::exp(-x));
}

template <class T>
AN_HOST_DEVICE T unary_value(UnaryOp op, T x) {
  switch (op) {
    case UnaryOp::relu: return x > T(0) ? x : T(0);
    case UnaryOp::tanh: return tanh_value(x);
    case UnaryOp::sigmoid: return sigmoid_value(x);
    case UnaryOp::exp: return std::exp(x);
    case UnaryOp::log: return std::log(x);
    case UnaryOp::identity: return x;
  }
  return x;
}

// d op(x) / dx, from x or the saved output y, whichever is cheaper. relu'(0) = 0 as in PyTorch.
template <class T>
AN_HOST_DEVICE T unary_derivative(UnaryOp op, T x, T y) {
  switch (op) {
    case UnaryOp::relu: return x > T(0) ? T(1) : T(0);
    case UnaryOp::tanh: return T(1) - y * y;
    case UnaryOp::sigmoid: return y * (T(1) - y);
    case UnaryOp::exp: return y;
    case UnaryOp::log: return T(1) / x;
    case UnaryOp::identity: return T(1);
  }
  return T(1);
}

template <class T>
AN_HOST_DEVICE T binary_value(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
  }
  return a;
}

}  // namespace autonet
