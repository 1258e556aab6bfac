// The smallest DARTS search run the task tests start: C = 4, 3 cells of 2 nodes, 2 epochs of
// batches of 4, on the CPU with one loader thread, no step log.
#pragma once
#include "darts/tasks/search_trainer.h"

namespace autonet::test {

inline darts::SearchRunConfig tiny_search_run() {
  darts::SearchRunConfig c;
  c.channels = 4;
  c.layers = 3;
  c.nodes = 2;
  c.multiplier = 2;
  c.epochs = 2;
  c.batch_size = 4;
  c.device = "cpu";
  c.workers = 1;
  c.log_every = 0;
  return c;
}

}  // namespace autonet::test
