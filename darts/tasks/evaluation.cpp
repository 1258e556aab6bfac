#include "darts/tasks/evaluation.h"

#include <numeric>

#include "autograd/checkpoint.h"
#include "darts/cnn/augment_model.h"
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

}  // namespace

RunEvaluation evaluate_cnn_run(const fs::path& run_dir, const data::ImageData& data,
                               const EvalOptions& options) {
  const run::RunFolder folder = run::RunFolder::open(run_dir);
  json stored = folder.config();
  const json run = stored.value("run", json::object());
  AN_CHECK(folder.kind() == "train" && run.contains("genotype"))
      << run_dir.string() << " is a '" << folder.kind() << "' run: eval takes CNN training runs "
      << "(autonet train)";
  stored.erase("run");
  const TrainRunConfig config = config_from_json<TrainRunConfig>(stored, "train");
  AN_CHECK(options.split == "test" || options.split == "train")
      << "eval: unknown split '" << options.split << "' (test or train)";
  const data::ImageSet& set = options.split == "test" ? data.test : data.train;
  AN_CHECK(set.size() > 0) << data.name << " has no " << options.split << " images";
  check_data_fits(run, data, set, run_dir);
  AN_CHECK(folder.has_checkpoint())
      << run_dir.string() << " holds no checkpoint: the run stopped before its first epoch ended";

  ParameterStore weights(static_cast<uint64_t>(config.seed));
  AugmentNetwork net(augment_config(config, data), load_cnn_genotype(run.at("genotype").get<std::string>()), weights);
  weights.to(options.device);
  const Checkpoint saved = read_checkpoint(folder.checkpoint_path());
  for (const auto& [name, tensor] : weights.named_tensors()) {
    const auto found = saved.tensors.find("model." + name);
    AN_CHECK(found != saved.tensors.end())
        << folder.checkpoint_path().string() << " lacks model." << name;
    AN_CHECK(found->second.shape() == tensor.shape() && found->second.dtype() == tensor.dtype())
        << folder.checkpoint_path().string() << ": model." << name << " is "
        << found->second.describe() << ", the network's " << tensor.describe();
    Tensor(tensor).copy_from(found->second);
  }
  net.eval();

  data::LoaderConfig loader;
  loader.batch_size = options.batch_size > 0 ? options.batch_size : config.batch_size;
  loader.shuffle = false;
  loader.transform = data::test_transform(data);
  loader.workers = options.workers;
  loader.device = options.device;
  std::vector<int64_t> all(static_cast<size_t>(set.size()));
  std::iota(all.begin(), all.end(), 0);
  data::Loader batches(set, all, loader, 0);
  RunEvaluation out;
  out.checkpoint = folder.checkpoint_path();
  out.epochs = saved.state.value("epoch", int64_t{0});
  out.result = run::evaluate([&net](const Variable& x) { return net.forward(x); }, batches);
  return out;
}

}  // namespace autonet::darts
