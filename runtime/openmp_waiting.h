// How OpenMP workers wait between the parallel loops of a step, chosen once for every program
// that runs steps (the `autonet` command line, the step benchmarks).
#pragma once
#include <string>

namespace autonet {

// The spins an idle OpenMP worker makes before it sleeps, unless the user chose: a step is
// thousands of short parallel loops, and a worker that sleeps between two of them (passive
// waiting) is woken by the kernel every time (the reduced CNN step 1.75 s against 1.36 s on 2
// idle cores); one that spins without bound (libgomp's active policy) starves the others when
// more threads than cores run (two processes on 2 cores: a test 3× slower). 10,000 spins, a few
// microseconds, cover the gap between two loops and bound the waste (docs/performance.md).
inline constexpr const char* kOpenMpSpinCount = "10000";

// When the environment sets neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT, sets GOMP_SPINCOUNT to
// kOpenMpSpinCount and starts the program again (libgomp reads its environment before main).
// Call it first in main; it returns at once where the user chose, or where the restart fails.
void choose_openmp_waiting(char** argv);

// The waiting in effect, as the environment says: "GOMP_SPINCOUNT=10000",
// "OMP_WAIT_POLICY=passive", both, or "the OpenMP runtime's default".
std::string openmp_waiting();

}  // namespace autonet
