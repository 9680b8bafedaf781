/* global AFRAME, THREE, NAF */
// A-Frame components of the demo. Everything is drawn locally (canvas
// textures): A-Frame's `text` component would fetch its font from a CDN.

// Hue from a client id, so everyone sees the same colour for the same person.
export function colorFor(id) {
  let h = 2166136261;
  for (const c of String(id)) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  const hue = (h >>> 0) % 360;
  return `hsl(${hue}, 70%, 58%)`;
}

function roundRect(g, x, y, w, h, r) {
  g.beginPath();
  g.moveTo(x + r, y);
  g.arcTo(x + w, y, x + w, y + h, r);
  g.arcTo(x + w, y + h, x, y + h, r);
  g.arcTo(x, y + h, x, y, r);
  g.arcTo(x, y, x + w, y, r);
  g.closePath();
}

// Synced over the data channel (NAF schema): the participant's name and
// colour. On a remote avatar it paints the head, body and name tag.
AFRAME.registerComponent("player-info", {
  schema: { name: { default: "" }, color: { default: "#888888" } },
  update() {
    for (const part of this.el.querySelectorAll(".tint")) part.setAttribute("material", "color", this.data.color);
    const tag = this.el.querySelector("[name-tag]");
    if (tag) tag.setAttribute("name-tag", { text: this.data.name, color: this.data.color });
    if (this.data.name && !this.announced && this.isRemote()) {
      this.announced = true;
      this.el.sceneEl.emit("avatar-joined", { el: this.el, name: this.data.name, color: this.data.color });
    }
  },
  isRemote() {
    const n = this.el.components.networked;
    return !!(n && n.data.owner && n.data.owner !== NAF.clientId);
  },
  remove() {
    if (this.announced) this.el.sceneEl.emit("avatar-left", { name: this.data.name, color: this.data.color });
  },
});

// A name plate that always turns toward the viewer; outlined in the
// participant's colour while the server says they are talking.
AFRAME.registerComponent("name-tag", {
  schema: { text: { default: "" }, color: { default: "#888888" }, talking: { default: false } },
  init() {
    this.canvas = document.createElement("canvas");
    this.canvas.width = 512;
    this.canvas.height = 128;
    this.texture = new THREE.CanvasTexture(this.canvas);
    this.texture.colorSpace = THREE.SRGBColorSpace;
    const mat = new THREE.MeshBasicMaterial({ map: this.texture, transparent: true, depthWrite: false });
    this.mesh = new THREE.Mesh(new THREE.PlaneGeometry(0.8, 0.2), mat);
    this.el.setObject3D("mesh", this.mesh);
    this.target = new THREE.Vector3();
  },
  update() {
    const g = this.canvas.getContext("2d", { willReadFrequently: true });
    g.clearRect(0, 0, 512, 128);
    g.font = "bold 60px system-ui, sans-serif";
    const w = Math.min(496, g.measureText(this.data.text || " ").width + 90);
    roundRect(g, (512 - w) / 2, 14, w, 100, 50);
    g.fillStyle = "rgba(20, 24, 43, 0.78)";
    g.fill();
    if (this.data.talking) {
      g.lineWidth = 8;
      g.strokeStyle = this.data.color;
      g.stroke();
    }
    g.fillStyle = this.data.color;
    g.beginPath();
    g.arc((512 - w) / 2 + 42, 64, 14, 0, Math.PI * 2);
    g.fill();
    g.fillStyle = "#ffffff";
    g.textAlign = "left";
    g.textBaseline = "middle";
    g.fillText(this.data.text, (512 - w) / 2 + 68, 67, w - 90);
    this.texture.needsUpdate = true;
  },
  tick() {
    const cam = this.el.sceneEl.camera;
    if (!cam) return;
    cam.getWorldPosition(this.target);
    this.el.object3D.lookAt(this.target);
  },
  remove() {
    this.texture.dispose();
    this.mesh.geometry.dispose();
    this.mesh.material.dispose();
  },
});

// Vertical gradient on the sky sphere.
AFRAME.registerComponent("gradient-sky", {
  schema: { top: { default: "#5b8fd9" }, bottom: { default: "#f3d9c6" } },
  init() {
    const c = document.createElement("canvas");
    c.width = 4;
    c.height = 256;
    const g = c.getContext("2d", { willReadFrequently: true });
    const grad = g.createLinearGradient(0, 0, 0, 256);
    grad.addColorStop(0, this.data.top);
    grad.addColorStop(0.55, "#b9d3f0");
    grad.addColorStop(1, this.data.bottom);
    g.fillStyle = grad;
    g.fillRect(0, 0, 4, 256);
    const tex = new THREE.CanvasTexture(c);
    tex.colorSpace = THREE.SRGBColorSpace;
    const mesh = new THREE.Mesh(
      new THREE.SphereGeometry(200, 32, 16),
      new THREE.MeshBasicMaterial({ map: tex, side: THREE.BackSide, fog: false, depthWrite: false })
    );
    this.el.setObject3D("mesh", mesh);
  },
});

// A soft grid for the ground, drawn once.
AFRAME.registerComponent("grid-ground", {
  schema: { color: { default: "#6f9a6a" }, line: { default: "#86b381" }, size: { default: 80 } },
  init() {
    const c = document.createElement("canvas");
    c.width = c.height = 256;
    const g = c.getContext("2d", { willReadFrequently: true });
    g.fillStyle = this.data.color;
    g.fillRect(0, 0, 256, 256);
    g.strokeStyle = this.data.line;
    g.lineWidth = 4;
    g.strokeRect(0, 0, 256, 256);
    const tex = new THREE.CanvasTexture(c);
    tex.colorSpace = THREE.SRGBColorSpace;
    tex.wrapS = tex.wrapT = THREE.RepeatWrapping;
    tex.repeat.set(this.data.size / 2, this.data.size / 2);
    tex.anisotropy = 4;
    const mesh = new THREE.Mesh(
      new THREE.CircleGeometry(this.data.size / 2, 64),
      new THREE.MeshStandardMaterial({ map: tex, roughness: 1 })
    );
    mesh.rotation.x = -Math.PI / 2;
    this.el.setObject3D("mesh", mesh);
  },
});

// Slow bobbing and turning, for the decorations.
AFRAME.registerComponent("drift", {
  schema: { speed: { default: 0.4 }, height: { default: 0.15 } },
  init() {
    this.y = this.el.object3D.position.y;
    this.phase = Math.random() * 10;
  },
  tick(t) {
    const s = t / 1000;
    this.el.object3D.position.y = this.y + Math.sin(s * this.data.speed * 2 + this.phase) * this.data.height;
    this.el.object3D.rotation.y = s * this.data.speed;
  },
});

// Until the user moves or looks around, turn the camera toward the others,
// so a newcomer sees who is there.
AFRAME.registerComponent("face-others", {
  init() {
    this.touched = false;
    // Typing a name or a chat line is not looking around.
    const stop = (e) => {
      if (!(e.target instanceof Element && e.target.closest("input, button, form"))) this.touched = true;
    };
    for (const ev of ["keydown", "mousedown", "touchstart", "wheel"]) window.addEventListener(ev, stop);
    this.center = new THREE.Vector3();
    this.tmp = new THREE.Vector3();
  },
  tick(t, dt) {
    if (this.touched) return;
    const look = this.el.components["look-controls"];
    if (!look || !look.yawObject) return;
    const avatars = this.el.sceneEl.querySelectorAll(".avatar");
    if (avatars.length === 0) return;
    this.center.set(0, 0, 0);
    avatars.forEach((a) => this.center.add(a.object3D.getWorldPosition(this.tmp)));
    this.center.divideScalar(avatars.length);
    const me = this.el.object3D.position;
    const want = Math.atan2(-(this.center.x - me.x), -(this.center.z - me.z));
    const yaw = look.yawObject.rotation;
    let d = want - yaw.y;
    d = Math.atan2(Math.sin(d), Math.cos(d));
    yaw.y += d * Math.min(1, (dt || 16) / 300);
  },
});
