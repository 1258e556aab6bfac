// The run configs' field tables (darts/tasks/config_table.h): the keys of config.json stay those of
// run folders written before the tables existed, values round-trip, bounds read as they check, and
// the fields a study may search.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "darts/rnn/trainer.h"
#include "darts/tasks/config_table.h"
#include "darts/tasks/search_trainer.h"
#include "darts/tasks/train_trainer.h"

namespace autonet::darts {
namespace {

std::set<std::string> keys_of(const nlohmann::json& j) {
  std::set<std::string> keys;
  for (const auto& [key, _] : j.items()) keys.insert(key);
  return keys;
}

// The keys of config.json before the tables (the X-macro lists): old run folders must resume.
TEST(ConfigTable, KeysAreThoseOfExistingRunFolders) {
  EXPECT_EQ(keys_of(SearchRunConfig{}),
            (std::set<std::string>{"dataset", "data_dir", "subset", "train_portion", "cutout",
                                   "cutout_length", "channels", "layers", "nodes", "multiplier",
                                   "stem_multiplier", "epochs", "batch_size", "learning_rate",
                                   "learning_rate_min", "momentum", "weight_decay", "grad_clip",
                                   "unrolled", "arch_learning_rate", "arch_beta1", "arch_beta2",
                                   "arch_weight_decay", "seed", "device", "workers", "log_every",
                                   "cuda_graph", "image_size", "skip_bad_images",
                                   "compute_mean_std",
                                   // PC-DARTS (absent from older folders: their defaults apply)
                                   "method", "partial_channels", "arch_frozen_epochs",
                                   // absent from older folders: auto, the CIFAR stem below 128
                                   // pixels (larger searches did not fit with it)
                                   "stem",
                                   // absent from older folders: on (runtime/side_stream.h)
                                   "side_stream"}));
  EXPECT_EQ(keys_of(TrainRunConfig{}),
            (std::set<std::string>{"genotype", "dataset", "data_dir", "subset", "test_subset",
                                   "valid_portion", "cutout", "cutout_length", "channels",
                                   "layers", "stem_multiplier", "auxiliary", "auxiliary_weight",
                                   "drop_path_prob", "epochs", "batch_size", "learning_rate",
                                   "learning_rate_min", "momentum", "weight_decay", "grad_clip",
                                   "seed", "device", "workers", "log_every", "image_size",
                                   "skip_bad_images", "compute_mean_std", "network",
                                   // train_imagenet.py's recipe (absent from older folders)
                                   "lr_schedule", "lr_gamma", "lr_decay_period",
                                   "label_smoothing",
                                   // absent from older folders: on (runtime/side_stream.h)
                                   "side_stream"}));
  EXPECT_EQ(keys_of(RnnRunConfig{}),
            (std::set<std::string>{"dataset", "data_dir", "train_tokens", "valid_tokens",
                                   "emsize", "nhid", "dropout", "dropouth", "dropoutx",
                                   "dropouti", "dropoute", "genotype", "epochs", "batch_size",
                                   "eval_batch_size", "test_batch_size", "bptt", "learning_rate",
                                   "weight_decay", "grad_clip", "ar_alpha", "tar_beta", "nonmono",
                                   "unrolled", "arch_learning_rate", "arch_weight_decay", "seed",
                                   "device", "log_every", "max_steps", "cuda_graph",
                                   // absent from older folders: on (runtime/side_stream.h)
                                   "side_stream"}));
}

TEST(ConfigTable, ValuesRoundTripAndAbsentKeysKeepTheBase) {
  SearchRunConfig c;
  c.channels = 6;
  c.learning_rate = 0.125;
  c.unrolled = true;
  c.device = "cpu";
  const nlohmann::json j = c;
  EXPECT_EQ(nlohmann::json(config_from_json<SearchRunConfig>(j, "search")), j);
  const RnnRunConfig train = config_from_json({{"epochs", 3}}, "rnn", rnn_train_defaults());
  EXPECT_EQ(train.epochs, 3);
  EXPECT_EQ(train.nhid, rnn_train_defaults().nhid);
}

TEST(ConfigTable, BoundsSayWhatTheyCheck) {
  EXPECT_EQ(bounds_problem(at_least(3), 3), "");
  EXPECT_EQ(bounds_problem(at_least(3), 2), "must be at least 3, got 2");
  EXPECT_EQ(bounds_problem(positive(), 0), "must be positive, got 0");
  EXPECT_EQ(bounds_problem(non_negative(), -1), "must be non-negative, got -1");
  EXPECT_EQ(bounds_problem(half_open(0, 1), 1), "must be in [0, 1), got 1");
  EXPECT_EQ(bounds_problem(open(0, 1), 0), "must be in (0, 1), got 0");
  EXPECT_EQ(bounds_problem(closed(0, 64), 64), "");
  EXPECT_NE(bounds_problem(closed(0, 64), std::nan("")), "");
  EXPECT_EQ(bounds_problem(at_least(1, "why"), 0), "must be at least 1 (why), got 0");
}

TEST(ConfigTable, ReadersRefuseWhatDoesNotFit) {
  int64_t i = 7;
  EXPECT_EQ(read_json(nlohmann::json(4.7), i), "must be an integer, got 4.7");
  EXPECT_NE(read_json(nlohmann::json::parse("18446744073709551615"), i), "");
  EXPECT_NE(read_json(nlohmann::json(true), i), "");
  EXPECT_EQ(read_text("12x", i), "must be an integer, got '12x'");
  EXPECT_NE(read_text("9223372036854775808", i).find("out of range"), std::string::npos);
  EXPECT_EQ(i, 7) << "a refused value leaves the field as it was";
  double d = 0;
  EXPECT_NE(read_text("inf", d), "");
  EXPECT_NE(read_text("1e999", d), "");
  EXPECT_NE(read_json(nlohmann::json(std::numeric_limits<double>::infinity()), d), "");
  EXPECT_EQ(read_text("-2.5e-3", d), "");
  EXPECT_EQ(d, -2.5e-3);
}

// What a study may search: the method's numbers and switches, not the data, device, seed,
// threads or logging.
// A preset gives its values to what the file and the flags left alone, and says which.
TEST(ConfigTable, APresetFillsOnlyTheFieldsNotSet) {
  TrainRunConfig c;
  c.epochs = 3;
  const std::vector<std::string> applied = apply_preset(c, imagenet_recipe(), {"epochs"});
  EXPECT_EQ(c.epochs, 3);  // set by a flag: kept
  EXPECT_EQ(c.lr_schedule, "step");
  EXPECT_FALSE(c.cutout);
  EXPECT_EQ(applied.size(), imagenet_recipe().values.size() - 1);
  EXPECT_EQ(std::count(applied.begin(), applied.end(), "epochs"), 0);
}

TEST(ConfigTable, SearchableFields) {
  const std::vector<std::string> keys = searchable_keys<SearchRunConfig>();
  auto has = [&](const std::string& k) { return std::count(keys.begin(), keys.end(), k) == 1; };
  for (const char* k : {"learning_rate", "weight_decay", "arch_learning_rate", "channels",
                        "layers", "unrolled", "cutout", "train_portion"})
    EXPECT_TRUE(has(k)) << k;
  for (const char* k : {"dataset", "data_dir", "device", "seed", "workers", "log_every",
                        "cuda_graph", "side_stream"})
    EXPECT_FALSE(has(k)) << k;
}

}  // namespace
}  // namespace autonet::darts
