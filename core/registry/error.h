#pragma once
// The registry's one error type, whichever database stands behind it: a
// message that names the operation, and the kind of failure, for callers
// that answer differently (a busy registry is worth a retry, a constraint is
// a conflict with what exists).
#include <string>

#include "util/error.h"

namespace provision::registry {

struct RegistryError : Error {
  enum class Kind {
    Busy,         // locked by another writer, or a transaction to retry
    Constraint,   // a uniqueness, foreign-key or check constraint
    Full,         // no room left (disk, quota)
    Corrupt,      // not a registry, or damaged
    Unavailable,  // cannot be opened or reached
    Schema,       // a schema version this build cannot use
    Other,
  };
  RegistryError(const std::string& message, Kind failure) : Error(message), kind(failure) {}
  Kind kind;
  bool busy() const { return kind == Kind::Busy; }
  bool constraint() const { return kind == Kind::Constraint; }
};

// What a device or an API client is told when the registry fails (each door
// answers it in its own format): 503 ServiceUnavailable (busy: retry),
// 503 RegistryUnavailable (cannot be reached), 503 RegistryFull (no room
// left), 409 Conflict (what another request just wrote), 500 InternalError.
// Nothing was applied in any case.
RequestError as_request_error(const RegistryError& e);

}  // namespace provision::registry
