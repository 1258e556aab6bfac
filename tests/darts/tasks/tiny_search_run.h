// The smallest CNN search run the task tests start from; each test sets what it varies.
#pragma once
#include "darts/tasks/search_trainer.h"

namespace autonet::test {

// C = 4, 3 cells of 2 nodes, 2 epochs of batch 4 on the CPU with one loader worker, no step log.
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
