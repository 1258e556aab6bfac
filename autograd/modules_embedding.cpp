// Embedding module.
#include "autograd/modules.h"

namespace autonet {

Embedding::Embedding(ParameterStore& store, std::string name, int64_t num, int64_t dim,
                     const Init& init)
    : Module(std::move(name)) {
  weight = store.add_parameter(child_name("weight"), {num, dim}, init);
}

}  // namespace autonet
