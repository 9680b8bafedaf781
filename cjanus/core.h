/*
 * Everything of the C side that Go calls, for cgo preambles: one include
 * per Go file instead of a list that drifts. C files include the headers
 * they use.
 */
#ifndef CJ_CORE_H
#define CJ_CORE_H

#include "abi.h"
#include "clock.h"
#include "events.h"
#include "host.h"
#include "log.h"
#include "rcu.h"
#include "relay.h"
#include "rtcp.h"

#endif
