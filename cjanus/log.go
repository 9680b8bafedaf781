package cjanus

/*
#include <stdlib.h>
#include "core.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Log writes through Janus's own logger, so plugin lines honour Janus's
// debug_level and land where Janus logs.
var Log janusLogger

type janusLogger struct{}

func (janusLogger) logf(level C.int, format string, args []any) {
	if C.cj_log_enabled(level) == 0 {
		return
	}
	msg := C.CString(fmt.Sprintf(format, args...))
	C.cj_log(level, msg)
	C.free(unsafe.Pointer(msg))
}

func (l janusLogger) Errorf(format string, args ...any)   { l.logf(C.CJ_LOG_ERR, format, args) }
func (l janusLogger) Warnf(format string, args ...any)    { l.logf(C.CJ_LOG_WARN, format, args) }
func (l janusLogger) Infof(format string, args ...any)    { l.logf(C.CJ_LOG_INFO, format, args) }
func (l janusLogger) Verbosef(format string, args ...any) { l.logf(C.CJ_LOG_VERB, format, args) }
