// The DARTS search space (reference darts.md §1.1–§1.2): the CNN primitive rows and what derives
// from them.
#include "darts/primitives.h"

#include <algorithm>

#include "kernels/rnn_cell.h"
#include "runtime/error.h"

namespace autonet::darts {
namespace {

// The search network follows each pool with a BN (model_search.py's MixedOp); the derived
// network's pools are bare.
CnnOpBuilder pool(PoolMode mode) {
  return [mode](ParameterStore& store, const std::string& name, int64_t channels, int64_t stride,
                OpContext context) -> std::unique_ptr<Module> {
    if (context == OpContext::search)
      return std::make_unique<PoolBN>(store, name, mode, channels, stride, /*affine=*/false);
    return std::make_unique<Pool3x3>(name, mode, stride);
  };
}

CnnOpBuilder sep_conv(int64_t kernel) {
  return [kernel](ParameterStore& store, const std::string& name, int64_t channels, int64_t stride,
                  OpContext context) -> std::unique_ptr<Module> {
    return std::make_unique<SepConv>(store, name, channels, channels, kernel, stride, kernel / 2,
                                     context == OpContext::augment);
  };
}

// Dilation 2: padding 2·(k−1)/2 keeps the size.
CnnOpBuilder dil_conv(int64_t kernel) {
  return [kernel](ParameterStore& store, const std::string& name, int64_t channels, int64_t stride,
                  OpContext context) -> std::unique_ptr<Module> {
    return std::make_unique<DilConv>(store, name, channels, channels, kernel, stride, kernel - 1, 2,
                                     context == OpContext::augment);
  };
}

std::unique_ptr<Module> zero(ParameterStore&, const std::string& name, int64_t, int64_t stride,
                             OpContext) {
  return std::make_unique<Zero>(name, stride);
}

// The identity, or at stride 2 a FactorizedReduce (operations.py's skip_connect).
std::unique_ptr<Module> skip_connect(ParameterStore& store, const std::string& name,
                                     int64_t channels, int64_t stride, OpContext context) {
  if (stride == 1) return std::make_unique<Identity>(name);
  return std::make_unique<FactorizedReduce>(store, name, channels, channels,
                                            context == OpContext::augment);
}

std::unique_ptr<Module> conv_7x1_1x7(ParameterStore& store, const std::string& name,
                                     int64_t channels, int64_t stride, OpContext context) {
  return std::make_unique<Conv7x1_1x7>(store, name, channels, stride,
                                       context == OpContext::augment);
}

struct Table {
  std::vector<CnnPrimitive> rows;
  std::vector<std::string> searched;  // derived from rows

  void index() {
    searched.clear();
    for (const CnnPrimitive& row : rows)
      if (row.searched) searched.push_back(row.name);
  }
};

Table& table() {
  static Table t = [] {
    // The searched rows in the official PRIMITIVES order (genotypes.py): the α columns.
    Table built;
    built.rows = {
        {"none", zero},
        {"max_pool_3x3", pool(PoolMode::max)},
        {"avg_pool_3x3", pool(PoolMode::avg)},
        {"skip_connect", skip_connect},
        {"sep_conv_3x3", sep_conv(3)},
        {"sep_conv_5x5", sep_conv(5)},
        {"dil_conv_3x3", dil_conv(3)},
        {"dil_conv_5x5", dil_conv(5)},
        // Ops of the NASNet and AmoebaNet genotypes, never searched.
        {"sep_conv_7x7", sep_conv(7), /*searched=*/false},
        {"conv_7x1_1x7", conv_7x1_1x7, /*searched=*/false},
    };
    built.index();
    return built;
  }();
  return t;
}

const CnnPrimitive* find_row(const std::string& name) {
  const std::vector<CnnPrimitive>& rows = table().rows;
  auto it = std::find_if(rows.begin(), rows.end(), [&](const auto& r) { return r.name == name; });
  return it == rows.end() ? nullptr : &*it;
}

}  // namespace

const std::vector<CnnPrimitive>& cnn_primitive_table() {
  return table().rows;
}

const std::vector<std::string>& cnn_primitives() {
  return table().searched;
}

bool is_known_cnn_op(const std::string& name) {
  return find_row(name) != nullptr;
}

const CnnPrimitive& cnn_primitive(const std::string& name) {
  if (const CnnPrimitive* row = find_row(name)) return *row;
  std::string known;
  for (const CnnPrimitive& row : table().rows) known += (known.empty() ? "" : ", ") + row.name;
  AN_THROW() << "unknown CNN op '" << name << "' (known: " << known << ")";
}

const std::string& drawing_label(const std::string& name) {
  const CnnPrimitive& row = cnn_primitive(name);
  return row.label.empty() ? row.name : row.label;
}

std::unique_ptr<Module> make_op(ParameterStore& store, const std::string& name,
                                const std::string& op_name, int64_t channels, int64_t stride,
                                OpContext context) {
  AN_CHECK(stride == 1 || stride == 2)
      << "op '" << name << "' (" << op_name << "): stride must be 1 or 2, got " << stride;
  AN_CHECK(channels > 0) << "op '" << name << "' (" << op_name << "): channels must be positive";
  const CnnPrimitive* row = find_row(op_name);
  AN_CHECK(row) << "unknown CNN op '" << op_name << "' for '" << name << "'";
  return row->build(store, name, channels, stride, context);
}

AddedCnnPrimitive::AddedCnnPrimitive(CnnPrimitive row) : name_(row.name) {
  AN_CHECK(!row.name.empty() && row.build) << "a CNN primitive needs a name and a builder";
  AN_CHECK(!find_row(row.name)) << "CNN primitive '" << row.name << "' exists already";
  table().rows.push_back(std::move(row));
  table().index();
}

AddedCnnPrimitive::~AddedCnnPrimitive() {
  std::vector<CnnPrimitive>& rows = table().rows;
  std::erase_if(rows, [&](const CnnPrimitive& r) { return r.name == name_; });
  table().index();
}

const std::vector<std::string>& rnn_primitives() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n{"none"};
    for (int a = 0; a < kRnnActivations; ++a)
      n.push_back(rnn_activation_name(static_cast<RnnActivation>(a)));
    return n;
  }();
  return names;
}

}  // namespace autonet::darts
