// The `command` workload: any program as a trial. It runs an executable (argv from the study
// config, no shell) in its own process group and talks to it through files and pipes:
//
//   in:  the trial's parameters as one JSON object on its stdin, and in a file whose path is
//        AUTONET_TRIAL_PARAMS; each parameter also as AUTONET_PARAM_<NAME> (the name upper-cased,
//        other characters than letters and digits as '_'); AUTONET_TRIAL_NUMBER,
//        AUTONET_TRIAL_SEED, AUTONET_TRIAL_ATTEMPT, AUTONET_DEVICE.
//   out: on stdout, one JSON object per line for the study:
//          {"step": 3, "value": 0.41, "metrics": {...}, "last_step": 10}   a report (per epoch)
//          {"final": 0.38, "metrics": {...}}                               the trial's result
//        Every line that starts with '{' is such a message (a broken one fails the trial, naming
//        its line number); other lines, and stderr, are passed through to the worker's stderr
//        (the trial's log) with a "trial N: " prefix.
//
// The result is the "final" line's value, else the last report's (value and metrics). A report
// that the pruner stops (or a lost shared trial) terminates the process between reports: SIGTERM
// to its group, SIGKILL after `grace_s`. A nonzero exit, a death by signal, `timeout_s` exceeded,
// or no value at all fail the trial with the tail of its stderr in the reason.
//
// Config: {"name": "command", "argv": ["python3", "train.py"],   required; argv[0] via PATH
//          "cwd": "runs", "env": {"KEY": "value"},               optional
//          "grace_s": 5, "timeout_s": 0}                         0: no limit of its own
#pragma once
#include <memory>

#include "hpsearch/workload.h"

namespace autonet::hpsearch {

std::unique_ptr<TrialWorkload> make_command_workload(const Json& config);
// For `hpsearch create`: the config's fields, and parameter names that map to one variable.
void check_command_workload(const Json& config, const Space& space);

}  // namespace autonet::hpsearch
