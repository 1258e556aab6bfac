// A tiny search network (C=4, 3 cells) with its optimizers on one device, and random batches:
// shared by the tests that run whole search steps.
#pragma once
#include <vector>

#include "autograd/optimizer.h"
#include "autograd/parameters.h"
#include "darts/cnn/architect.h"
#include "darts/cnn/search_model.h"
#include "tests/darts/cnn/model_inputs.h"

namespace autonet::test {

inline Tensor random_images(const Shape& shape, uint64_t seed, Device device) {
  Tensor t = Tensor::empty(shape);
  fill_uniform(t, -1.0, 1.0, seed);
  return t.to(device);
}

inline Tensor labels_for(int64_t n, int64_t shift, Device device) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = (i * 7 + shift) % 10;
  return Tensor::from_vector(v, {n}).to(device);
}

// One network with its optimizers, on `device`, initialised from fixed seeds.
struct TinySearcher {
  ParameterStore weights{21}, alphas{22};
  darts::SearchNetwork net;
  bool placed;  // the stores move to the device before the optimizers take their buffers
  Sgd sgd;
  darts::Architect architect;

  static darts::SearchConfig config() { return darts::tiny_search_config(); }
  // The same as PC-DARTS's supernet: half of each edge's channels through its ops, β.
  static darts::SearchConfig pc_darts_config() {
    darts::SearchConfig c = config();
    c.partial_channels = 2;
    c.edge_normalization = true;
    return c;
  }
  static SgdOptions sgd_options() {
    SgdOptions o;
    o.lr = 0.05;
    o.momentum = 0.9;
    o.weight_decay = 3e-4;
    return o;
  }
  bool place(Device device) {
    weights.to(device);
    alphas.to(device);
    return true;
  }
  explicit TinySearcher(Device device, darts::ArchitectConfig arch = {},
                        const darts::SearchConfig& network = config())
      : net(network, weights, alphas),
        placed(place(device)),
        sgd(weights.weights(), weights.grads(), sgd_options()),
        architect(net, sgd, arch) {}
};

}  // namespace autonet::test
