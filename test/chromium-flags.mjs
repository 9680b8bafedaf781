// Chromium flags shared by the browser suites (test/browser, test/adapter,
// test/demo): headless in a network namespace, no background traffic, fake
// media permission and autoplay. Each suite adds what it needs.
export const CHROMIUM_BASE_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--use-fake-ui-for-media-stream",
  "--autoplay-policy=no-user-gesture-required",
];

// Chromium's own camera and microphone (a test pattern and a beep).
export const FAKE_DEVICES = "--use-fake-device-for-media-stream";

// Raw host candidates rather than mDNS .local names, which Janus/libnice
// cannot resolve.
export const RAW_HOST_CANDIDATES = "--disable-features=WebRtcHideLocalIpsWithMdns";
