// The trial workloads that train networks, registered by name for `autonet hpsearch`:
//   "seed-cnn"      the seed notebook's CNN (seed_cnn.h)
//   "darts-search"  one DARTS architecture search per trial (darts_search.h)
#pragma once

namespace autonet::hpsearch {

// Registers every training workload (with its space checker where it has one). Idempotent.
void register_training_workloads();

}  // namespace autonet::hpsearch
