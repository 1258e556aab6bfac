// Scalar formulas of the elementwise ops, shared by the CPU loops and the CUDA kernels so the two
// twins cannot drift apart.
#pragma once
#include <cmath>

#include "kernels/elementwise.h"
#include "runtime/philox.h"

namespace autonet {

template <class T>
AN_HOST_DEVICE T unary_value(UnaryOp op, T x) {
  switch (op) {
    case UnaryOp::relu: return x > T(0) ? x : T(0);
    case UnaryOp::tanh: return std::tanh(x);
    case UnaryOp::sigmoid: return T(1) / (T(1) + std::exp(-x));
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
