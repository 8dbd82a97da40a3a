#include "exchange/policy_holder.h"
