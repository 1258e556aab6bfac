// The search space of DARTS (reference darts.md §1, §7.1) as one table: a row per CNN primitive
// with its name (as genotypes and α columns spell it), its builder, whether it is searched and the
// label its edge gets in a drawing. Everything else derives from the rows: the α columns and the
// mixed op's candidates (cnn_primitives), the ops a genotype may name (is_known_cnn_op, the
// "unknown CNN op" errors), make_op, and the edge labels of the cell drawings.
//
// A new primitive is one class (an autograd Module mapping C → C channels at stride 1 or 2) and
// one row in primitives.cpp; docs/architecture.md shows the steps and
// tests/darts/test_primitives.cpp adds one from outside the library.
//
// The builder serves every place an op is built: the search network (OpContext::search: BNs
// without affine, a BN after each pool) and the derived network (OpContext::augment), on normal
// edges (stride 1) and on the reduction cell's edges from its inputs (stride 2). PC-DARTS builds
// the same ops on C/K channels (darts/cnn/pc_search_model.h), so it needs no builder of its own.
//
// The recurrent primitives are `none` and the activations of the fused RNN cell kernel
// (kernels/rnn_cell.h), in its order: a new one is a kernel change, and the list follows it.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/modules.h"
#include "darts/cnn/ops.h"

namespace autonet::darts {

// Builds one op under its full parameter name (`cells.0._ops.3._ops.5`) for `channels` channels.
using CnnOpBuilder =
    std::function<std::unique_ptr<Module>(ParameterStore& store, const std::string& name,
                                          int64_t channels, int64_t stride, OpContext context)>;

struct CnnPrimitive {
  std::string name;
  CnnOpBuilder build;
  bool searched = true;  // a column of α; false: an op only published baseline genotypes use
  std::string label{};   // on a drawn edge; empty: the name
};

// Every row, the searched ones in α column order (`none` first).
const std::vector<CnnPrimitive>& cnn_primitive_table();
// The searched names: the column order of the CNN α matrices.
const std::vector<std::string>& cnn_primitives();
// Every op a CNN genotype may name: the searched primitives and the baselines' ops.
bool is_known_cnn_op(const std::string& name);
// The row of `name`; throws "unknown CNN op" listing the known ones.
const CnnPrimitive& cnn_primitive(const std::string& name);
// What a drawing writes on an edge of op `name`.
const std::string& drawing_label(const std::string& name);

// Builds op `op_name` under the full name `name` (stride 1 or 2, channels > 0).
std::unique_ptr<Module> make_op(ParameterStore& store, const std::string& name,
                                const std::string& op_name, int64_t channels, int64_t stride,
                                OpContext context);

// A row added from outside the library (a test, an experiment) at the end of the table — a new
// last α column when searched — for as long as this object lives. Built-in primitives are rows in
// primitives.cpp instead.
class AddedCnnPrimitive {
 public:
  explicit AddedCnnPrimitive(CnnPrimitive row);  // throws if the name is taken
  ~AddedCnnPrimitive();
  AddedCnnPrimitive(const AddedCnnPrimitive&) = delete;
  AddedCnnPrimitive& operator=(const AddedCnnPrimitive&) = delete;

 private:
  std::string name_;
};

// The column order of the RNN α matrix: `none`, then the RNN cell kernel's activations.
const std::vector<std::string>& rnn_primitives();

}  // namespace autonet::darts
