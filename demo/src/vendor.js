// Load order matters: networked-aframe reads the AFRAME global and
// naf-janus-adapter registers itself with networked-aframe's NAF global when
// it loads. A-Frame and NAF are their own prebuilt bundles from npm (they
// carry the forks of three-bmfont-text and buffered-interpolation that
// their package.json lists as GitHub dependencies).
import "aframe";
import "networked-aframe/dist/networked-aframe.min.js";
