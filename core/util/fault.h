#pragma once
// Fault injection for the reliability tests (docs/reliability.md): a named
// point in the code where the process kills itself with SIGKILL when the
// environment variable PROVISION_KILL_AT names it, as if the machine had
// lost power there. Unset (always, in production), a point costs one
// comparison of a cached pointer.
//
//   fault::point("register-thing.after-commit");
#include <string_view>

namespace provision::fault {

void point(std::string_view name);

}  // namespace provision::fault
