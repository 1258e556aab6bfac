// Small pieces every run uses: wall time, values rounded for the log, the finiteness checks that
// keep a diverged run from writing a bad checkpoint, checkpoint entries, and the device a config
// names.
#pragma once
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "autograd/safetensors.h"
#include "runtime/device.h"
#include "runtime/tensor.h"

namespace autonet::run {

// Seconds of wall time since t.
double seconds_since(std::chrono::steady_clock::time_point t);

// A value rounded to `digits` decimals: keeps logged numbers (α matrices, rates) readable.
double rounded(double value, int digits = 6);
std::vector<std::vector<double>> rounded(const std::vector<std::vector<double>>& m,
                                         int digits = 6);

// Throws, naming what and where, when a loss (or gradient norm) is NaN or infinite: the caller
// then stops before its next checkpoint, so the checkpoints already written stay as they are.
void check_finite(double value, const std::string& what, const std::string& where);
// Throws when a flat weight buffer holds a NaN or an infinity (checked before every checkpoint).
void check_finite_weights(const Tensor& flat_weights, const std::string& where);

// (name, tensor) pairs as checkpoint entries, and appending one list of entries to another.
std::vector<NamedTensor> named(const std::vector<std::pair<std::string, Tensor>>& tensors);
void append(std::vector<NamedTensor>& to, const std::vector<NamedTensor>& more);

// The device a config names: "auto" (or empty) = cuda when one is usable, else cpu.
Device resolve_device(const std::string& name);

}  // namespace autonet::run
