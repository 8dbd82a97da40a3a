#include "exchange/relay_link.h"
