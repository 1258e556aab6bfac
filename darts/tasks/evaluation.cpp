#include "darts/tasks/evaluation.h"

#include <cmath>

#include "autograd/checkpoint.h"
#include "darts/cnn/augment_model.h"
#include "darts/rnn/task.h"
#include "darts/tasks/train_trainer.h"
#include "datasets/loader.h"
#include "datasets/transforms.h"
#include "run/run_folder.h"
#include "runtime/error.h"

namespace autonet::darts {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The data set must give the network what it was trained on: the same classes (by name for
// image folders) and the same image shape.
void check_data_fits(const json& run, const data::ImageData& data, const data::ImageSet& set,
                     const fs::path& dir) {
  AN_CHECK(run.value("classes", int64_t{-1}) == data.num_classes)
      << dir.string() << " was trained on " << run.value("classes", int64_t{-1})
      << " classes; the data set " << data.name << " has " << data.num_classes;
  if (run.contains("class_names") && !data.class_names.empty()) {
    const auto names = run.at("class_names").get<std::vector<std::string>>();
    for (size_t i = 0; i < names.size(); ++i)
      AN_CHECK(names[i] == data.class_names[i])
          << dir.string() << " was trained with class " << i << " = '" << names[i]
          << "'; the data set's class " << i << " is '" << data.class_names[i] << "'";
  }
  const std::vector<int64_t> shape{set.channels(), set.height(), set.width()};
  AN_CHECK(run.value("image_shape", shape) == shape)
      << dir.string() << " was trained on images of shape " << run.at("image_shape").dump()
      << "; the data set gives " << json(shape).dump();
}

// The images of a split of a CNN training run, as the run drew them.
struct SplitImages {
  data::ImageSet set;
  std::vector<int64_t> indices;
};
SplitImages split_images(const TrainRunConfig& config, const data::ImageData& data,
                         const std::string& split, const fs::path& dir) {
  RunImages r = run_images(config, data);
  if (split == "train") return {r.train, r.train_indices};
  if (split == r.eval_set) return {r.eval, r.eval_indices};
  AN_CHECK(split == "test")
      << dir.string() << " held out no validation images (it ran without --valid-portion): "
      << "evaluate on test or train";
  // A run that validated on held-out images never read its test set: all of it.
  AN_CHECK(data.test.size() > 0) << data.name << " has no test images";
  std::vector<int64_t> all(static_cast<size_t>(data.test.size()));
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  return {data.test, all};
}

}  // namespace

void EvalOptions::validate() const {
  AN_CHECK(split == "train" || split == "valid" || split == "test")
      << "eval: unknown split '" << split << "' (train, valid or test)";
  AN_CHECK(checkpoint == "last" || checkpoint == "best")
      << "eval: unknown checkpoint '" << checkpoint << "' (last or best)";
}

bool is_rnn_run(const std::string& kind) { return kind == "rnn-train" || kind == "rnn-search"; }

fs::path run_checkpoint(const run::RunFolder& folder, const std::string& which) {
  EvalOptions{.checkpoint = which}.validate();
  const fs::path& run_dir = folder.dir();
  if (which == "last") {
    AN_CHECK(folder.has_checkpoint())
        << run_dir.string()
        << " holds no checkpoint: the run stopped before its first epoch ended";
    return folder.checkpoint_path();
  }
  const fs::path best = folder.path("best.safetensors");
  AN_CHECK(fs::exists(best)) << run_dir.string() << " holds no best.safetensors (the run stopped "
                             << "before its first epoch ended, or was made before training runs "
                             << "kept their best epoch): use --checkpoint last";
  return best;
}

RunEvaluation evaluate_cnn_run(const fs::path& run_dir, const data::ImageData& data,
                               const EvalOptions& options) {
  const run::RunFolder folder = run::RunFolder::open(run_dir);
  const json run = folder.config().value("run", json::object());
  AN_CHECK(folder.kind() == "train" && run.contains("genotype"))
      << run_dir.string() << " is a '" << folder.kind() << "' run: eval takes CNN training runs "
      << "(autonet train) and recurrent runs (rnn-train, rnn-search)";
  const TrainRunConfig config = config_from_json<TrainRunConfig>(run::stored_flags(folder), "train");
  options.validate();
  const SplitImages images = split_images(config, data, options.split, run_dir);
  AN_CHECK(!images.indices.empty()) << data.name << " has no " << options.split << " images";
  check_data_fits(run, data, images.set, run_dir);
  const fs::path path = run_checkpoint(folder, options.checkpoint);

  ParameterStore weights(static_cast<uint64_t>(config.seed));
  AugmentNetwork net(augment_config(config, data),
                     parse_cnn_genotype(run.at("genotype").get<std::string>()), weights);
  weights.to(options.device);
  // The network's tensors only: the checkpoint holds the optimizer's too.
  const Checkpoint saved = read_checkpoint(path);
  for (const auto& [name, tensor] : weights.named_tensors()) {
    const auto found = saved.tensors.find("model." + name);
    AN_CHECK(found != saved.tensors.end()) << path.string() << " lacks model." << name;
    AN_CHECK(found->second.shape() == tensor.shape() && found->second.dtype() == tensor.dtype())
        << path.string() << ": model." << name << " is " << found->second.describe()
        << ", the network's " << tensor.describe();
    Tensor(tensor).copy_from(found->second);
  }
  net.eval();

  data::LoaderConfig loader;
  loader.batch_size = options.batch_size > 0 ? options.batch_size : config.batch_size;
  loader.shuffle = false;
  loader.transform = data::test_transform(data);
  loader.workers = options.workers;
  loader.device = options.device;
  data::Loader batches(images.set, images.indices, loader, 0);
  RunEvaluation out;
  out.checkpoint = path;
  out.epochs = saved.state.value("epoch", int64_t{0});
  out.result = run::evaluate([&net](const Variable& x) { return net.forward(x); }, batches);
  return out;
}

RnnEvaluation evaluate_rnn_run(const fs::path& run_dir, const data::TextCorpus& corpus,
                               const EvalOptions& options) {
  const run::RunFolder folder = run::RunFolder::open(run_dir);
  AN_CHECK(is_rnn_run(folder.kind()))
      << run_dir.string() << " is a '" << folder.kind() << "' run, not a recurrent one";
  options.validate();
  const fs::path path = run_checkpoint(folder, options.checkpoint);
  const RnnRunConfig config = config_from_json<RnnRunConfig>(run::stored_flags(folder), "rnn");
  // The run's task rebuilt around its checkpoint: the same model (search or derived cell), the
  // same optimizer kind (ASGD's average), the vocabulary checked.
  const std::unique_ptr<RnnTask> task =
      make_rnn_task(folder.kind(), config, corpus, options.device);
  const json state = task->load(path);

  const bool train = options.split == "train", test = options.split == "test";
  const Tensor& tokens = train ? corpus.train : test ? corpus.test : corpus.valid;
  const int64_t limit = train ? config.train_tokens : config.valid_tokens;
  const int64_t run_batch =
      train ? config.batch_size : test ? config.test_batch_size : config.eval_batch_size;
  RnnEvaluation out;
  out.checkpoint = path;
  out.epochs = state.value("epoch", int64_t{0});
  const Tensor split = first_tokens(tokens, limit);
  out.tokens = split.numel();
  out.loss = task->evaluate_tokens(split, options.batch_size > 0 ? options.batch_size : run_batch,
                                   options.split);
  out.perplexity = std::exp(out.loss);
  return out;
}

}  // namespace autonet::darts
