// The smallest CNN runs the task tests start from (search and training); each test sets what it
// varies.
#pragma once
#include "darts/tasks/search_trainer.h"
#include "darts/tasks/train_trainer.h"

namespace autonet::test {

// What every tiny image run shares (Config: SearchRunConfig or TrainRunConfig): C = 4, 3 cells,
// 2 epochs of batch 4 on the CPU with one loader worker, no step log.
template <class Config>
Config tiny_image_run() {
  Config c;
  c.channels = 4;
  c.layers = 3;
  c.epochs = 2;
  c.batch_size = 4;
  c.device = "cpu";
  c.workers = 1;
  c.log_every = 0;
  return c;
}

// The search: cells of 2 nodes.
inline darts::SearchRunConfig tiny_search_run() {
  darts::SearchRunConfig c = tiny_image_run<darts::SearchRunConfig>();
  c.nodes = 2;
  c.multiplier = 2;
  return c;
}

}  // namespace autonet::test
