#include "hpsearch/workloads/training_workloads.h"

#include "hpsearch/workloads/darts_search.h"
#include "hpsearch/workloads/seed_cnn.h"

namespace autonet::hpsearch {

void register_training_workloads() {
  register_workload("seed-cnn", make_seed_cnn_workload);
  register_workload("darts-search", make_darts_search_workload, check_darts_search_space);
}

}  // namespace autonet::hpsearch
