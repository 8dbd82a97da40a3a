#include "exchange/exchange_service.h"
