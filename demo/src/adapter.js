// After vendor.js (see there): registers the "janus" adapter with NAF.
import "./vendor.js";
import "naf-janus-adapter";
