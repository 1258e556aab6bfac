#include "runtime/host_sync_guard.h"

#include "runtime/error.h"

namespace autonet {

namespace {
thread_local const char* scope_what = nullptr;  // the innermost live scope's work
}  // namespace

NoHostSyncScope::NoHostSyncScope(const char* what) : previous_(scope_what) { scope_what = what; }

NoHostSyncScope::~NoHostSyncScope() { scope_what = previous_; }

void check_no_host_sync(const char* call) {
  AN_CHECK(scope_what == nullptr)
      << call << " inside " << scope_what
      << ": it makes the host wait for the device (keep the value on the device, or read it "
         "after this work)";
}

}  // namespace autonet
