// Local media: the camera and microphone when the browser has them and the
// user allows them, otherwise a generated test pattern (canvas) and a soft
// tone (WebAudio), so every participant always publishes audio and video.

const WIDTH = 640;
const HEIGHT = 480;
const FPS = 15;

// Background tabs throttle setInterval and stop requestAnimationFrame; a
// worker's timer keeps the generated stream alive in a second tab.
function workerTicker(ms, fn) {
  const src = `setInterval(() => postMessage(0), ${ms});`;
  const worker = new Worker(URL.createObjectURL(new Blob([src], { type: "text/javascript" })));
  worker.onmessage = fn;
  return worker;
}

// A moving test pattern with the user's name and a clock.
export function testPatternTrack(name, color) {
  const canvas = document.createElement("canvas");
  canvas.width = WIDTH;
  canvas.height = HEIGHT;
  // A software canvas: captureStream then copies frames without a GPU
  // readback (a stall per frame with software WebGL).
  const g = canvas.getContext("2d", { willReadFrequently: true });
  const bars = ["#f5f5f5", "#f2d43c", "#3fd0d4", "#4ccc5b", "#d14fc9", "#e4473f", "#3a57d6"];
  const start = performance.now();
  const draw = () => {
    const t = (performance.now() - start) / 1000;
    const bg = g.createLinearGradient(0, 0, WIDTH, HEIGHT);
    bg.addColorStop(0, color);
    bg.addColorStop(1, "#14182b");
    g.fillStyle = bg;
    g.fillRect(0, 0, WIDTH, HEIGHT);
    // colour bars across the top
    const bw = WIDTH / bars.length;
    bars.forEach((c, i) => {
      g.fillStyle = c;
      g.fillRect(i * bw, 0, bw + 1, 64);
    });
    // a sweeping wave, so a frozen stream is obvious
    g.strokeStyle = "rgba(255,255,255,0.85)";
    g.lineWidth = 6;
    g.beginPath();
    for (let x = 0; x <= WIDTH; x += 8) {
      const y = 300 + Math.sin(x / 60 + t * 3) * 40;
      x === 0 ? g.moveTo(x, y) : g.lineTo(x, y);
    }
    g.stroke();
    const bx = (WIDTH / 2) + Math.cos(t * 1.3) * 220;
    g.fillStyle = "#ffffff";
    g.beginPath();
    g.arc(bx, 300 + Math.sin(bx / 60 + t * 3) * 40, 18, 0, Math.PI * 2);
    g.fill();
    g.fillStyle = "#ffffff";
    g.textAlign = "center";
    g.font = "bold 64px system-ui, sans-serif";
    g.fillText(name, WIDTH / 2, 170, WIDTH - 40);
    g.font = "28px system-ui, sans-serif";
    g.fillStyle = "rgba(255,255,255,0.8)";
    g.fillText("no camera · test pattern", WIDTH / 2, 215);
    g.font = "bold 40px ui-monospace, monospace";
    g.fillStyle = "#ffffff";
    g.fillText(new Date().toLocaleTimeString([], { hour12: false }), WIDTH / 2, 430);
  };
  draw();
  const stream = canvas.captureStream(FPS);
  const ticker = workerTicker(Math.round(1000 / FPS), draw);
  const track = stream.getVideoTracks()[0];
  track.addEventListener("ended", () => ticker.terminate());
  return track;
}

// A quiet three-note chime every two seconds, so a listener hears that the
// audio path works without a microphone at the other end.
export function toneTrack() {
  const ctx = new AudioContext();
  const dest = ctx.createMediaStreamDestination();
  const master = ctx.createGain();
  master.gain.value = 0.12;
  master.connect(dest);
  const notes = [523.25, 659.25, 783.99]; // C5 E5 G5
  const chime = () => {
    const now = ctx.currentTime + 0.05;
    notes.forEach((f, i) => {
      const osc = ctx.createOscillator();
      const env = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = f;
      env.gain.setValueAtTime(0, now + i * 0.18);
      env.gain.linearRampToValueAtTime(1, now + i * 0.18 + 0.02);
      env.gain.exponentialRampToValueAtTime(0.001, now + i * 0.18 + 0.6);
      osc.connect(env).connect(master);
      osc.start(now + i * 0.18);
      osc.stop(now + i * 0.18 + 0.7);
    });
  };
  chime();
  const ticker = workerTicker(2000, chime);
  const track = dest.stream.getAudioTracks()[0];
  track.addEventListener("ended", () => {
    ticker.terminate();
    ctx.close();
  });
  if (ctx.state === "suspended") ctx.resume();
  return track;
}

async function tryGetUserMedia(constraints) {
  try {
    return { stream: await navigator.mediaDevices.getUserMedia(constraints) };
  } catch (e) {
    return { error: e };
  }
}

// Returns { stream, audio: "microphone"|"tone", video: "camera"|"test pattern", notes }.
// `generated` skips getUserMedia (?media=generated).
export async function localMedia({ name, color, generated }) {
  const notes = [];
  let audio = null;
  let video = null;
  if (!generated && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    const both = await tryGetUserMedia({ audio: true, video: { width: WIDTH, height: HEIGHT } });
    if (both.stream) {
      audio = both.stream.getAudioTracks()[0] || null;
      video = both.stream.getVideoTracks()[0] || null;
    } else if (both.error.name !== "NotAllowedError") {
      // One device missing fails the pair; ask for each on its own.
      const a = await tryGetUserMedia({ audio: true });
      const v = await tryGetUserMedia({ video: { width: WIDTH, height: HEIGHT } });
      audio = a.stream ? a.stream.getAudioTracks()[0] : null;
      video = v.stream ? v.stream.getVideoTracks()[0] : null;
      if (!audio) notes.push(`microphone: ${a.error.name}`);
      if (!video) notes.push(`camera: ${v.error.name}`);
    } else {
      notes.push("camera and microphone declined");
    }
  }
  const result = {
    audio: audio ? "microphone" : "tone",
    video: video ? "camera" : "test pattern",
    notes,
  };
  result.stream = new MediaStream([audio || toneTrack(), video || testPatternTrack(name, color)]);
  return result;
}
