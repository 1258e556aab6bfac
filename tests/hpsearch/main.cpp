// test_hpsearch is also its own trial process and, for the kill tests, its own coordinator and
// shared-study worker:
//   test_hpsearch --hpsearch-worker --in-fd 3 --out-fd 4
//   test_hpsearch --hpsearch-run STUDY.db
//   test_hpsearch --hpsearch-work STUDY HEARTBEAT_S EXPIRY_S
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "hpsearch/runner.h"
#include "hpsearch/worker.h"
#include "hpsearch/workloads/training_workloads.h"

int main(int argc, char** argv) {
  autonet::hpsearch::register_training_workloads();
  if (argc >= 6 && std::strcmp(argv[1], "--hpsearch-worker") == 0)
    return autonet::hpsearch::run_worker(std::stoi(argv[3]), std::stoi(argv[5]));
  if (argc >= 3 && std::strcmp(argv[1], "--hpsearch-run") == 0) {
    autonet::hpsearch::RunOptions options;
    options.worker_command = {autonet::hpsearch::self_executable(), "--hpsearch-worker"};
    autonet::hpsearch::run_study(argv[2], options);
    return 0;
  }
  if (argc >= 5 && std::strcmp(argv[1], "--hpsearch-work") == 0) {
    autonet::hpsearch::RunOptions options;
    options.worker_command = {autonet::hpsearch::self_executable(), "--hpsearch-worker"};
    const autonet::hpsearch::Heartbeat heartbeat{std::stod(argv[3]), std::stod(argv[4])};
    try {
      autonet::hpsearch::work_on_study(argv[2], options, heartbeat);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "worker: %s\n", e.what());
      return 1;
    }
    return 0;
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
