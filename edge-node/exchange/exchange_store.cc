#include "exchange/exchange_store.h"
