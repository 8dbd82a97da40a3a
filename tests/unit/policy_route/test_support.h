// Shared by the policy_route tests: the baseline database under test.
#pragma once

#include "beibu/policy/database.h"

namespace beibu::policy::testing {

// deploy/policy loaded from $BEIBU_SOURCE_DIR; the test aborts when it does
// not load (the table must run on the real baseline).
const Database& Baseline();

}  // namespace beibu::policy::testing
