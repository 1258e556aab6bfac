// Drop path (reference darts.md §5.2): each sample of an op's output is zeroed with probability
// p and the kept ones scaled by 1/(1 − p). The per-sample mask comes from Philox, so it is the
// same on CPU and GPU and reproducible from the run's seed.
#pragma once
#include <vector>

#include "autograd/variable.h"
#include "runtime/philox.h"

namespace autonet::darts {

// Sample n is kept when philox_uniform(key, n) < 1 − p (a Bernoulli(1 − p) draw, as
// torch's bernoulli_(keep_prob)). Uses N numbers of `key`'s stream.
std::vector<bool> drop_path_mask(int64_t samples, double drop_prob, const PhiloxKey& key);

// x [N, ...] → x · m_n / (1 − p). p = 0 returns x itself. The mask is drawn on the host (N
// numbers), so the device work is one scaled copy plus one fill per run of dropped samples.
Variable drop_path(const Variable& x, double drop_prob, const PhiloxKey& key);

}  // namespace autonet::darts
