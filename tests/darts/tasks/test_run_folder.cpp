// The run folder's guards: one process at a time (the lock), a folder without a checkpoint that
// says why and how to start again, and a folder of another kind of run that names its command.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "darts/rnn/trainer.h"
#include "darts/tasks/search_trainer.h"
#include "darts/tasks/train_trainer.h"
#include "run/run_folder.h"
#include "runtime/error.h"
#include "tests/darts/tiny_data.h"

namespace autonet::darts {
namespace {

namespace fs = std::filesystem;
using run::RunFolder;

// The message of the autonet::Error that fn throws ("no error" when it throws none).
template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

TEST(RunFolder, ASecondProcessIsRefusedNamingTheHolder) {
  test::TempDir tmp("run-lock");
  const fs::path dir = tmp / "run";
  const nlohmann::json config = {{"run", {{"kind", "search"}}}};
  const std::string holder = "pid " + std::to_string(::getpid());
  {
    const RunFolder held = RunFolder::create(dir, config);
    const pid_t child = ::fork();
    if (child == 0) {  // another process resuming the folder: exit 0 when refused naming us
      const std::string message = error_of([&] { RunFolder::open(dir); });
      ::_exit(message.find("in use by another autonet process (" + holder) != std::string::npos
                  ? 0
                  : 1);
    }
    int status = -1;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the other process was not refused";

    // The lock follows the folder, not its spelling; a new run in it is refused too.
    EXPECT_HAS(error_of([&] { RunFolder::open(tmp.path() / "." / "run" / ".." / "run"); }), holder);
    EXPECT_HAS(error_of([&] { RunFolder::create(dir, config); }), holder);
    const RunFolder copy = held;  // copies share the one lock
  }
  EXPECT_EQ(error_of([&] { RunFolder::open(dir); }), "no error");  // released with the last copy
}

TEST(RunFolder, AMissingCheckpointSaysWhyAndHowToStartAgain) {
  test::TempDir tmp("run-no-checkpoint");
  const fs::path dir = tmp / "run";
  const nlohmann::json config = {{"run", {{"kind", "search"}}}};
  const auto resume = [&] { return error_of([&] { RunFolder::open(dir).check_resumable(); }); };
  const std::string way_out = "delete " + dir.string() + " and run the same command, or choose "
                              "another --out";

  RunFolder::create(dir, config);  // and then the run ended before its first epoch finished
  EXPECT_HAS(resume(), "holds no checkpoint to resume: the run ended before its first epoch");
  EXPECT_HAS(resume(), way_out);
  const std::string again = error_of([&] { RunFolder::create(dir, config); });
  EXPECT_HAS(again, "a run that --resume cannot continue");
  EXPECT_HAS(again, way_out);

  // The first epoch was logged; its checkpoint never appeared.
  RunFolder::open(dir).append_log({{"kind", "epoch"}, {"epoch", 0}});
  EXPECT_HAS(resume(), "while writing its first checkpoint, or checkpoint.safetensors was deleted");
  // A second epoch is logged only after the first checkpoint was written.
  RunFolder::open(dir).append_log({{"kind", "epoch"}, {"epoch", 1}});
  EXPECT_HAS(resume(), "checkpoint.safetensors was deleted or moved (log.jsonl records 2");
  // Version 1's sidecar without its tensor file.
  std::ofstream(dir / "checkpoint.safetensors.json") << "{}";
  EXPECT_HAS(resume(), "checkpoint.safetensors was deleted (its version-1 sidecar");
  EXPECT_HAS(resume(), way_out);
}

TEST(RunFolder, ResumingAnotherKindOfRunNamesItsCommand) {
  test::TempDir tmp("run-kinds");
  RunFolder::create(tmp / "rnn", {{"train_tokens", 0}, {"run", {{"kind", "rnn-search"}}}});
  // Image runs written before the kind was recorded: their keys tell.
  RunFolder::create(tmp / "train", {{"drop_path_prob", 0.2}, {"run", nlohmann::json::object()}});
  RunFolder::create(tmp / "search", {{"arch_beta1", 0.5}});

  const data::ImageData images = test::tiny_images(16, 4, 8);
  const data::TextCorpus text = data::corpus_from_texts("t", {"a b c", "a b", "b c"});
  EXPECT_HAS(error_of([&] { resume_search(tmp / "rnn", images); }),
             "holds a run of `autonet rnn-search`: continue it with `autonet rnn-search --resume");
  EXPECT_HAS(error_of([&] { resume_search(tmp / "train", images); }), "`autonet train --resume");
  EXPECT_HAS(error_of([&] { resume_training(tmp / "search", images); }),
             "`autonet search --resume");
  EXPECT_HAS(error_of([&] { resume_rnn_run(tmp / "search", text); }), "`autonet search --resume");
  EXPECT_EQ(RunFolder::open(tmp / "rnn").kind(), "rnn-search");
}

}  // namespace
}  // namespace autonet::darts
