#include "datasets/random_order.h"

#include <utility>

#include "runtime/error.h"

namespace autonet::data {

void philox_shuffle(std::vector<int64_t>& items, const PhiloxKey& key) {
  const uint64_t n = items.size();
  AN_CHECK(n <= (uint64_t{1} << 32)) << "philox_shuffle: " << n << " items exceed 2^32";
  for (uint64_t i = n; i-- > 1;) {
    const uint64_t j = philox_below(philox_bits(key, i), i + 1);
    std::swap(items[i], items[j]);
  }
}

}  // namespace autonet::data
