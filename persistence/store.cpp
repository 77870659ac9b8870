#include "persistence/store.h"

namespace vesta::persistence {
namespace {

core::Status not_shared(const char* what) {
  return core::internal_error(std::string(what) + " needs a shared store");
}

}  // namespace

core::Result<uint64_t> Store::append_shared(std::string_view /*record*/,
                                            PayloadChanges /*changes*/) {
  return not_shared("append_shared");
}

core::Result<uint64_t> Store::append_catalog(std::string_view /*record*/,
                                             std::string_view /*catalog*/,
                                             uint64_t /*expected_sequence*/,
                                             PayloadChanges /*changes*/) {
  return not_shared("append_catalog");
}

core::Status Store::follow(ReplayFn /*deliver*/) { return not_shared("follow"); }

}  // namespace vesta::persistence
