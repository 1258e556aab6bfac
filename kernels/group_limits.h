// How many members one group op takes (pointwise_group, batch_norm_group, depthwise_group): a
// DARTS state's 4 outgoing edges hold 16 1×1 convs in their sep/dil convs' first stage, with
// room. The twins pass member pointers by value as kernel parameters, so the bound is fixed; the
// search cell runs a larger set as several groups.
#pragma once

namespace autonet {

constexpr int kMaxGroupMembers = 24;

}  // namespace autonet
