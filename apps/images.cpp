// `autonet images export`: writes a data set as an image folder of PNG files, e.g. to try
// `--dataset folder` on the embedded Fashion-MNIST without a download.
#include <fmt/core.h>

#include "apps/commands.h"
#include "datasets/image_folder.h"
#include "datasets/registry.h"

namespace autonet::apps {

void add_images_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("images", "Work with image folders (--dataset folder)");
  cmd->require_subcommand(1);
  CLI::App* exporter = cmd->add_subcommand(
      "export", "Write a data set as an image folder: OUT/train/<class>/<n>.png and OUT/val/... "
                "(its test images)");
  struct Flags {
    std::string dataset = "fashion-mnist", data_dir, out;
    int64_t limit = 0;
  };
  auto f = std::make_shared<Flags>();
  exporter->add_option("--dataset", f->dataset, "data set: fashion-mnist, mnist, cifar10, cifar100")
      ->capture_default_str();
  exporter->add_option("--data-dir", f->data_dir, "folder of the data set files");
  exporter->add_option("--out", f->out, "the image folder to write")->required();
  exporter->add_option("--limit", f->limit, "at most N images per split (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  exporter->callback([f] {
    const data::ImageData data = data::open_image_dataset(f->dataset, f->data_dir);
    const int64_t n = data::write_image_folder(data, f->out, f->limit);
    fmt::print("wrote {} PNG files of {} classes into {}\n", n, data.num_classes, f->out);
  });
}

}  // namespace autonet::apps
