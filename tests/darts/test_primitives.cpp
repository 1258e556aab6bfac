// The table of primitives (darts/primitives.h): a primitive added as one row and one class, from
// outside the library, is searched (a column of α, a candidate of every mixed op), derived into
// genotypes, accepted by their checks, built in the derived network and drawn with its label.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "autograd/functions.h"
#include "darts/cnn/augment_model.h"
#include "darts/cnn/search_model.h"
#include "darts/genotype/genotype.h"
#include "darts/primitives.h"
#include "runtime/error.h"
#include "tests/darts/cnn/model_inputs.h"

namespace autonet::darts {
namespace {

// The new primitive's class: ReLU → 1×1 conv (carrying the stride) → BN, named as a Sequential.
class ReLUConv1x1BN : public Module {
 public:
  ReLUConv1x1BN(ParameterStore& store, std::string name, int64_t channels, int64_t stride,
                bool affine)
      : Module(std::move(name)),
        conv_(store, child_name("op.1"), channels, channels, 1, stride),
        bn_(store, child_name("op.2"), channels, affine) {
    register_child(conv_);
    register_child(bn_);
  }
  Variable forward(const Variable& x) override { return bn_.forward(conv_.forward(relu(x))); }

 private:
  Conv2d conv_;
  BatchNorm2d bn_;
};

// Its row.
CnnPrimitive conv_1x1_row() {
  return {"conv_1x1",
          [](ParameterStore& store, const std::string& name, int64_t channels, int64_t stride,
             OpContext context) -> std::unique_ptr<Module> {
            return std::make_unique<ReLUConv1x1BN>(store, name, channels, stride,
                                                   context == OpContext::augment);
          },
          /*searched=*/true, /*label=*/"conv 1x1"};
}

TEST(Primitives, AnAddedPrimitiveIsSearchedDerivedAndDrawn) {
  const size_t builtin = cnn_primitives().size();
  const AddedCnnPrimitive added(conv_1x1_row());
  ASSERT_EQ(cnn_primitives().size(), builtin + 1);
  const int64_t column = static_cast<int64_t>(builtin);  // the new last α column
  EXPECT_EQ(cnn_primitives()[column], "conv_1x1");

  // Searched: α has its column, every mixed op its candidate, and α's gradient reaches it.
  ParameterStore weights(1), alphas(2);
  SearchNetwork net(tiny_search_config(), weights, alphas);
  ASSERT_EQ(net.alpha_normal().size(1), column + 1);
  EXPECT_TRUE(weights.contains("cells.0._ops.0._ops." + std::to_string(column) + ".op.1.weight"));
  EXPECT_NE(dynamic_cast<ReLUConv1x1BN*>(&net.cell(2).edge(13).op(column)), nullptr);
  backward(cross_entropy(net.forward(random_input({2, 3, 8, 8}, 3)), labels({1, 2})));
  const Tensor grad = net.alpha_reduce().grad();
  for (int64_t e = 0; e < grad.size(0); ++e)
    EXPECT_NE(grad.to_vector<float>()[e * (column + 1) + column], 0.0f) << "edge " << e;

  // Derived: α favouring it on the first edge of each cell puts it into the genotype, whose text
  // loads back through the genotype checks.
  alphas.weights().fill_(0.0);
  net.alpha_normal().value().data<float>()[column] = 1.0f;
  net.alpha_reduce().value().data<float>()[column] = 1.0f;
  const CnnGenotype g = net.genotype();
  EXPECT_EQ(g.normal[0], (OpEdge{"conv_1x1", 0}));
  EXPECT_EQ(g.reduce[0], (OpEdge{"conv_1x1", 0}));
  EXPECT_EQ(parse_cnn_genotype(to_text(g)), g);

  // Built in the derived network, on a normal edge (stride 1) and a reduction edge (stride 2).
  ParameterStore derived(4);
  AugmentConfig config;
  config.channels = 4;
  config.layers = 3;
  config.auxiliary = false;
  AugmentNetwork augment(config, g, derived);
  EXPECT_NE(dynamic_cast<ReLUConv1x1BN*>(&augment.cell(0).op(0)), nullptr);
  EXPECT_NE(dynamic_cast<ReLUConv1x1BN*>(&augment.cell(1).op(0)), nullptr);
  EXPECT_EQ(augment.forward(random_input({2, 3, 8, 8}, 5)).value().shape(), (Shape{2, 10}));

  // Drawn with its label.
  EXPECT_NE(to_dot(g, "normal").find("c_k2 -> 0 [label=\"conv 1x1\"]"), std::string::npos)
      << to_dot(g, "normal");
}

TEST(Primitives, GenotypesAreCheckedAgainstTheTable) {
  const std::string text =
      "Genotype(normal=[('conv_1x1', 0), ('skip_connect', 1)], normal_concat=[2], "
      "reduce=[('max_pool_3x3', 0), ('skip_connect', 1)], reduce_concat=[2])";
  {
    const AddedCnnPrimitive added(conv_1x1_row());
    EXPECT_EQ(parse_cnn_genotype(text).normal[0].first, "conv_1x1");
    EXPECT_THROW(AddedCnnPrimitive again(conv_1x1_row()), Error);  // one row per name
  }
  // Gone with its row: the table is the only list of ops.
  EXPECT_TRUE(std::find(cnn_primitives().begin(), cnn_primitives().end(), "conv_1x1") ==
              cnn_primitives().end());
  try {
    parse_cnn_genotype(text);
    ADD_FAILURE() << "a genotype naming an op the table lacks was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown op 'conv_1x1'"), std::string::npos) << e.what();
  }
  ParameterStore store;
  try {
    make_op(store, "op", "conv_1x1", 4, 1, OpContext::search);
    ADD_FAILURE() << "make_op built an op the table lacks";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown CNN op 'conv_1x1'"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace autonet::darts
