#include "runtime/op_profile.h"

namespace autonet {

thread_local OpProfile* OpProfile::active_ = nullptr;
thread_local const char* OpProfile::entry_ = nullptr;
thread_local TwinTimer* TwinTimer::innermost_ = nullptr;

OpCost& OpCost::operator+=(const OpCost& other) {
  launches += other.launches;
  bytes_read += other.bytes_read;
  bytes_written += other.bytes_written;
  flops += other.flops;
  library_calls += other.library_calls;
  side_launches += other.side_launches;
  side_bytes += other.side_bytes;
  return *this;
}

void OpProfile::add(const std::string& op, const OpCost& cost) {
  std::lock_guard<std::mutex> lock(mutex_);
  OpTotals& totals = ops_[op];
  ++totals.calls;
  totals.cost += cost;
}

void OpProfile::add_time(const std::string& op, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  ops_[op].seconds += seconds;
}

void OpProfile::add_transfer(int64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++transfers_;
  transfer_bytes_ += bytes;
}

std::map<std::string, OpTotals> OpProfile::by_op() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return ops_;
}

OpTotals OpProfile::total() const {
  std::lock_guard<std::mutex> lock(mutex_);
  OpTotals sum;
  for (const auto& [op, totals] : ops_) {
    sum.calls += totals.calls;
    sum.cost += totals.cost;
    sum.seconds += totals.seconds;
  }
  return sum;
}

int64_t OpProfile::transfers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return transfers_;
}

int64_t OpProfile::transfer_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return transfer_bytes_;
}

void OpProfile::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  ops_.clear();
  transfers_ = transfer_bytes_ = 0;
}

}  // namespace autonet
