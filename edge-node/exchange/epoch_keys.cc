#include "exchange/epoch_keys.h"
