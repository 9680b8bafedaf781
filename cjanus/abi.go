package cjanus

/*
#include "core.h"
*/
import "C"

// Multistream reports whether the loaded Janus has the 1.x plugin ABI,
// which carries many streams on one handle (packets have an mindex): the
// sfu offers multistream subscriptions only then. Valid once Janus has
// called init.
func (g *Gateway) Multistream() bool { return C.cj_selected_abi() == 1 }
