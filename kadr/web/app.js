// The kadr studio page: create (prompt + live advice + settings), queue (live progress), gallery.
// Plain ES module, no framework, no build. Talks to the HTTP API in docs/api.md with the API key kept
// in localStorage; live updates come from the SSE endpoint read with fetch() streaming (EventSource
// cannot send an Authorization header), with polling as the fallback.

import { LANGS, detectLang, makeT } from "./i18n.js";
import { fillPost, loadPostCosts, postFields, renderPostCosts } from "./post.js";
import { installEdit } from "./edit.js";

const KEY_STORE = "kadr.apiKey";
const LANG_STORE = "kadr.lang";
const CAMERAS = ["auto", "static", "pan_left", "pan_right", "tilt_up", "tilt_down", "zoom_in", "zoom_out"];
const STYLES = ["auto", "realistic", "cinematic", "animation", "artistic"];
const ASPECTS = ["16:9", "9:16", "1:1"];
const IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp"];
const MAX_IMAGE_BYTES = 50 * 1024 * 1024;
const RECENT_S = 30 * 60; // failed / canceled jobs stay in the queue this long
const ADVICE_DEBOUNCE_MS = 250;

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

const state = {
  key: readStore(KEY_STORE) || "",
  lang: detectLang(readStore(LANG_STORE), navigator.languages || [navigator.language]),
  user: null,
  usage: null,
  videos: new Map(), // id -> video object
  session: new Set(), // ids seen queued or running while this page was open
  hidden: new Set(), // finished ids dismissed from the queue
  milestones: new Map(), // id -> last announced quarter of progress
  media: new Map(), // "id:variant" -> Promise<object URL>
  image: null, // File for image-to-video
  imageURL: null,
  advice: null,
  playerId: null,
};
let t = makeT(state.lang);

// ---- small helpers ------------------------------------------------------------------------------

function readStore(key) {
  try { return localStorage.getItem(key); } catch { return null; }
}
function writeStore(key, value) {
  try { value == null ? localStorage.removeItem(key) : localStorage.setItem(key, value); } catch { /* private mode */ }
}
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k === "html") node.innerHTML = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}
const svg = (paths, cls = "") => {
  const s = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  s.setAttribute("viewBox", "0 0 24 24");
  s.setAttribute("aria-hidden", "true");
  if (cls) s.setAttribute("class", cls);
  s.innerHTML = paths;
  return s;
};
const ICONS = {
  download: '<path d="M12 4v11m0 0l-4.5-4.5M12 15l4.5-4.5M5 20h14"/>',
  again: '<path d="M4 12a8 8 0 0114-5.3M20 4v5h-5M20 12a8 8 0 01-14 5.3M4 20v-5h5"/>',
  trash: '<path d="M5 7h14M10 7V4h4v3m-7 0l1 13h8l1-13"/>',
  play: '<path d="M8 5l11 7-11 7z"/>',
  x: '<path d="M6 6l12 12M18 6L6 18"/>',
  sparkle: '<path d="M12 3l1.8 5.2L19 10l-5.2 1.8L12 17l-1.8-5.2L5 10l5.2-1.8z"/>',
  image: '<path d="M4 16l4-4 3 3 5-6 4 5M4 4h16v16H4z"/>',
};
const sleep = (ms, signal) => new Promise((resolve) => {
  const id = setTimeout(resolve, ms);
  signal?.addEventListener("abort", () => { clearTimeout(id); resolve(); }, { once: true });
});
const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));
const short = (text, n = 60) => {
  const s = (text || "").trim() || t("untitled");
  return s.length > n ? s.slice(0, n - 1).trimEnd() + "…" : s;
};
function formatDuration(seconds) {
  const s = Math.max(1, Math.round(seconds));
  if (s < 60) return t("time.s", { n: s });
  const m = Math.floor(s / 60);
  const r = s % 60;
  return r ? t("time.min", { m, s: r }) : t("time.minOnly", { n: m });
}
function relativeTime(unixSeconds) {
  if (!unixSeconds) return "";
  const diff = unixSeconds - Date.now() / 1000;
  const rtf = new Intl.RelativeTimeFormat(state.lang, { numeric: "auto", style: "short" });
  const abs = Math.abs(diff);
  if (abs < 60) return rtf.format(Math.round(diff), "second");
  if (abs < 3600) return rtf.format(Math.round(diff / 60), "minute");
  if (abs < 86400) return rtf.format(Math.round(diff / 3600), "hour");
  return rtf.format(Math.round(diff / 86400), "day");
}
const motionName = (v) => (v == null ? null : typeof v === "object" ? v.motion ?? v.name ?? v.value ?? null : String(v));
const label = (group, value) => (value ? t(`${group}.${value}`) : "");
const humanWord = (v) => (v == null ? "" : typeof v === "object" ? v.label ?? v.name ?? v.value ?? "" : String(v).replace(/_/g, " "));
const CYR = /[\u0400-\u04ff]/;
/**
 * Advice and warnings from the prompt planner name values as the API does ("camera=zoom_in",
 * "(pan_right)", "style=realistic"): show them as the page names them, in the language of the
 * sentence itself (a Russian sentence keeps Russian words, whatever the interface language).
 */
function readable(text) {
  const s = String(text ?? "");
  const tl = makeT(CYR.test(s) ? "ru" : "en");
  const name = (group, v) => {
    const key = `${group}.${v}`;
    const word = tl(key);
    return word === key ? v.replace(/_/g, " ") : word.toLowerCase();
  };
  return s
    .replace(/\b(camera|style)=([a-z_]+)/g, (_, group, v) => name(group, v))
    .replace(/\b(?:aspect|duration|seconds)=([\w:.]+)/g, "$1")
    .replace(new RegExp(`\\b(${CAMERAS.slice(1).join("|")})\\b`, "g"), (_, v) => name("camera", v))
    .replace(new RegExp(`\\b(${STYLES.slice(1).join("|")})\\b`, "g"), (_, v) => name("style", v))
    .replace(/\b([a-z]+)_([a-z]+)\b/g, "$1 $2");
}

// ---- the API -------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    const err = body && body.error ? body.error : {};
    super(err.message || (typeof body?.detail === "string" ? body.detail : "") || `HTTP ${status}`);
    this.status = status;
    this.param = err.param || null;
    this.code = err.code || null;
  }
}

async function api(path, { method = "GET", json, form, signal, raw = false } = {}) {
  const headers = { Authorization: `Bearer ${state.key}` };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  const res = await fetch(path, { method, headers, body, signal, cache: "no-store" });
  if (!res.ok) {
    let data = null;
    try { data = await res.json(); } catch { /* not JSON */ }
    throw new ApiError(res.status, data);
  }
  if (raw) return res;
  if (res.status === 204) return null;
  return res.json();
}

/** Read a Server-Sent Events stream with fetch(); call onOpen once, then onData(JSON) per event. */
async function readEvents(path, signal, onOpen, onData) {
  const res = await fetch(path, {
    headers: { Authorization: `Bearer ${state.key}`, Accept: "text/event-stream" },
    signal,
    cache: "no-store",
  });
  if (!res.ok || !res.body) throw new ApiError(res.status, null);
  onOpen();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer = (buffer + value).replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).replace(/^ /, "")).join("\n");
      if (!data) continue;
      let obj;
      try { obj = JSON.parse(data); } catch { continue; }
      onData(obj);
    }
  }
}

function mediaURL(id, variant) {
  const key = `${id}:${variant}`;
  if (!state.media.has(key)) {
    const promise = api(`v1/videos/${encodeURIComponent(id)}/content?variant=${variant}`, { raw: true })
      .then((res) => res.blob())
      .then((blob) => URL.createObjectURL(blob));
    promise.catch(() => state.media.delete(key));
    state.media.set(key, promise);
  }
  return state.media.get(key);
}
function forgetMedia(id) {
  for (const variant of ["video", "thumbnail"]) {
    const key = `${id}:${variant}`;
    state.media.get(key)?.then((url) => URL.revokeObjectURL(url), () => {});
    state.media.delete(key);
  }
}

// ---- video objects -------------------------------------------------------------------------------

function statusOf(v) {
  if (v.kadr_status) return v.kadr_status;
  if (v.status === "queued") return "queued";
  if (v.status === "in_progress") return "running";
  if (v.status === "completed") return "succeeded";
  return v.error?.code === "canceled" ? "canceled" : "failed";
}
const isActive = (v) => ["queued", "running"].includes(statusOf(v));
const progressOf = (v) => (statusOf(v) === "succeeded" ? 100 : clamp(Math.round(Number(v.progress) || 0), 0, 100));
function aspectOf(v) {
  if (ASPECTS.includes(v.aspect)) return v.aspect;
  const m = /^(\d+)x(\d+)$/.exec(v.size || "");
  if (!m) return "16:9";
  const r = m[1] / m[2];
  return r > 1.2 ? "16:9" : r < 0.83 ? "9:16" : "1:1";
}
const arCSS = (aspect) => aspect.replace(":", " / ");
function metaLine(v) {
  const parts = [t("duration.value", { n: Number(v.seconds) || 0 }), aspectOf(v)];
  if (v.image_to_video) parts.push(t("card.image"));
  if (v.provenance?.c2pa) parts.push(t("card.provenance"));
  if (v.quality) parts.push(label("quality", v.quality));
  const cam = motionName(v.camera);
  if (cam && CAMERAS.includes(cam)) parts.push(label("camera", cam));
  return parts.join(" · ");
}

function upsert(v) {
  if (!v || !v.id) return;
  if (v.deleted || v.object === "video.deleted") return removeVideo(v.id);
  if (v.object && v.object !== "video") return;
  const prev = state.videos.get(v.id);
  state.videos.set(v.id, v);
  const now = statusOf(v);
  if (isActive(v)) state.session.add(v.id);
  if (prev && statusOf(prev) !== now) {
    announce(t("announce.status", { prompt: short(v.prompt, 40), status: t(`status.${now}`) }));
    if (now === "succeeded") { toast(t("toast.done", { prompt: short(v.prompt, 40) }), "ok"); loadUsage(); }
    if (now === "failed") toast(t("toast.failed", { message: v.error?.message || t("status.failed") }), "bad");
  }
  if (now === "running") {
    const quarter = Math.floor(progressOf(v) / 25);
    if (quarter > 0 && quarter < 4 && quarter !== state.milestones.get(v.id)) {
      state.milestones.set(v.id, quarter);
      announce(t("announce.progress", { prompt: short(v.prompt, 40), n: quarter * 25 }));
    }
  }
  scheduleRender();
}

function removeVideo(id) {
  state.videos.delete(id);
  state.session.delete(id);
  forgetMedia(id);
  if (state.playerId === id) $("#player").close();
  scheduleRender();
}

let listing = null;
async function refreshList() {
  if (listing) return listing;
  const started = Date.now() / 1000;
  listing = (async () => {
    try {
      const page = await api("v1/videos?limit=100&order=desc");
      const seen = new Set();
      for (const v of page.data || []) { seen.add(v.id); upsert(v); }
      if (!page.has_more) {
        for (const [id, v] of state.videos) if (!seen.has(id) && (v.created_at || 0) < started - 5) removeVideo(id);
      }
      live.lastRefresh = Date.now();
    } catch (err) {
      if (err.status === 401) signOut("signin.bad");
    } finally {
      listing = null;
    }
  })();
  return listing;
}

// ---- live updates: SSE through fetch, polling as the fallback -------------------------------------

const live = { ctrl: null, connected: false, timer: null, lastRefresh: 0 };

function startLive() {
  stopLive();
  const ctrl = new AbortController();
  live.ctrl = ctrl;
  streamLoop(ctrl.signal);
  live.timer = setInterval(pollTick, 1500);
}
function stopLive() {
  live.ctrl?.abort();
  clearInterval(live.timer);
  live.connected = false;
  setLive("off");
}
async function streamLoop(signal) {
  let failures = 0;
  while (!signal.aborted) {
    try {
      await readEvents("v1/events", signal, () => {
        live.connected = true;
        failures = 0;
        setLive("stream");
        refreshList(); // catch up with anything that changed while disconnected
      }, upsert);
    } catch (err) {
      if (signal.aborted) return;
      if (err.status === 401) return signOut("signin.bad");
      failures += 1;
    }
    live.connected = false;
    if (signal.aborted) return;
    setLive("poll");
    await sleep(Math.min(1000 * 2 ** Math.min(failures, 4), 15000), signal);
  }
}
function pollTick() {
  if (live.connected) return;
  const busy = [...state.videos.values()].some(isActive);
  if (busy || Date.now() - live.lastRefresh > 5000) refreshList();
}
function setLive(mode) {
  const node = $("#live");
  node.dataset.state = mode;
  $("span", node).textContent = t(`live.${mode}`);
}

// ---- usage ---------------------------------------------------------------------------------------

async function loadUsage() {
  try {
    state.usage = await api("v1/usage");
  } catch {
    state.usage = null;
  }
  renderUsage();
}
function renderUsage() {
  const tiers = state.usage?.tiers || {};
  const open = [];
  for (const tier of ["fast", "high"]) {
    const u = tiers[tier];
    const cost = $(`.tier-cost[data-tier="${tier}"]`);
    const left = $(`.tier-left[data-tier="${tier}"]`);
    const spent = !!u && u.left != null && u.left <= 0;
    cost.textContent = u && u.cost != null ? t("quality.cost", { n: u.cost }) : "";
    left.classList.toggle("none", spent);
    // "left" is what the plan still allows this month: the tier's video limit or the shared credit
    // budget, whichever ends first; null means neither limits it.
    if (!u) left.textContent = "";
    else if (u.left == null) left.textContent = t("quality.unlimited");
    else if (spent) left.textContent = t("quality.none");
    else left.textContent = t("quality.left", { n: u.left });
    const input = $(`#create-form input[name="quality"][value="${tier}"]`);
    input.disabled = spent;
    input.closest(".tier").classList.toggle("spent", spent);
    if (!spent) open.push(tier);
  }
  if (open.length && !open.includes(form().quality)) setRadio("quality", open[0]);
  state.spent = !!state.usage && open.length === 0;
  $("#submit").disabled = state.spent;
  $("#submit").title = state.spent ? t("quality.spent") : "";
  const chosen = tiers[form().quality];
  $("#submit-cost").textContent = state.spent ? t("quality.none") : chosen && chosen.cost != null ? t("quality.cost", { n: chosen.cost }) : "";
  const user = $("#user");
  user.hidden = !state.user;
  if (state.user) {
    const plan = state.usage?.plan || state.user.plan;
    user.textContent = "";
    user.append(el("b", { text: state.user.user || "" }), plan ? el("small", { text: t("user.plan", { plan }) }) : null);
  }
}

// ---- the create form -----------------------------------------------------------------------------

function buildPresets() {
  const aspects = $("#aspects");
  for (const a of ASPECTS) {
    aspects.append(el("label", { class: "aspect" },
      el("input", { type: "radio", name: "aspect", value: a, checked: a === "16:9" }),
      el("span", { class: "aspect-card" },
        el("span", { class: "aspect-shape", style: `--ar:${arCSS(a)}` }),
        el("b", { text: a }),
        el("small", { "data-i18n": `aspect.${a}` }))));
  }
  const styles = $("#styles");
  for (const s of STYLES) {
    styles.append(el("label", { class: "preset" },
      el("input", { type: "radio", name: "style", value: s, checked: s === "auto" }),
      el("span", { class: "preset-card" },
        s === "auto" ? svg(ICONS.sparkle, "sw sw-auto") : el("span", { class: `sw sw-${s}`, "aria-hidden": "true" }),
        el("span", { "data-i18n": `style.${s}` }))));
  }
  const arrows = {
    static: "M7 9V7h2M17 9V7h-2M7 15v2h2M17 15v2h-2",
    pan_left: "M18 12H6m4-4l-4 4 4 4",
    pan_right: "M6 12h12m-4-4l4 4-4 4",
    tilt_up: "M12 18V6m-4 4l4-4 4 4",
    tilt_down: "M12 6v12m-4-4l4 4 4-4",
    zoom_in: "M12 8v8M8 12h8M5 9V5h4M19 9V5h-4M5 15v4h4M19 15v4h-4",
    zoom_out: "M8 12h8M9 5v4H5M15 5v4h4M9 19v-4H5M15 19v-4h4",
  };
  const cameras = $("#cameras");
  for (const c of CAMERAS) {
    const icon = c === "auto"
      ? svg(ICONS.sparkle, "cam-ico cam-auto")
      : el("span", { class: "cam-ico", "aria-hidden": "true" }, el("i", { class: `mv mv-${c}` }), svg(`<path d="${arrows[c]}"/>`, "cam-arrow"));
    cameras.append(el("label", { class: "preset", "data-camera": c },
      el("input", { type: "radio", name: "camera", value: c, checked: c === "auto" }),
      el("span", { class: "preset-card" }, icon, el("span", { "data-i18n": `camera.${c}` }))));
  }
}

function form() {
  const f = $("#create-form").elements;
  return {
    mode: f.mode.value,
    prompt: $("#prompt").value.trim(),
    quality: f.quality.value,
    seconds: Number($("#duration").value),
    aspect: f.aspect.value,
    style: f.style.value,
    camera: f.camera.value,
    seed: $("#seed").value.trim(),
    negative: $("#negative").value.trim(),
  };
}
function setRadio(name, value) {
  const input = $(`#create-form input[name="${name}"][value="${CSS.escape(value)}"]`);
  if (input) input.checked = true;
  return !!input;
}

function updateMode() {
  const image = form().mode === "image";
  $("#drop").hidden = !image;
  const key = image ? "image" : "text";
  $("#prompt-label").dataset.i18n = `prompt.label.${key}`;
  $("#prompt-label").textContent = t(`prompt.label.${key}`);
  $("#prompt").placeholder = t(`prompt.placeholder.${key}`);
  updatePreview();
}

function updatePreview() {
  const f = form();
  const frame = $("#frame");
  frame.style.setProperty("--ar", arCSS(f.aspect));
  frame.dataset.aspect = f.aspect;
  const scene = $("#scene");
  const motion = f.camera === "auto" ? motionName(state.advice?.camera) || "static" : f.camera;
  scene.className = `scene mv-${CAMERAS.includes(motion) ? motion : "static"} st-${f.style}`;
  const useImage = f.mode === "image" && state.imageURL;
  scene.style.backgroundImage = useImage ? `url("${state.imageURL}")` : "";
  scene.classList.toggle("has-image", !!useImage);
  $("#frame-tag").textContent = `${f.aspect} · ${t("duration.value", { n: f.seconds })}`;
  $("#duration-out").textContent = t("duration.value", { n: f.seconds });
  const pct = ((f.seconds - 5) / 25) * 100;
  $("#duration").style.setProperty("--fill", `${pct}%`);
  renderPostCosts({ t, fmt: formatDuration, quality: f.quality, seconds: f.seconds });
}

function setImage(file) {
  const error = $("#form-error");
  error.textContent = "";
  if (!file) return;
  if (!IMAGE_TYPES.includes(file.type)) { error.textContent = t("drop.bad"); return; }
  if (file.size > MAX_IMAGE_BYTES) { error.textContent = t("drop.big"); return; }
  if (state.imageURL) URL.revokeObjectURL(state.imageURL);
  state.image = file;
  state.imageURL = URL.createObjectURL(file);
  setRadio("mode", "image");
  const img = $("#image-preview");
  img.onerror = () => {
    if (state.image !== file) return;
    clearImage();
    error.textContent = t("drop.broken", { name: file.name });
  };
  img.onload = () => {
    $("#image-meta").textContent = `${img.naturalWidth}×${img.naturalHeight} · ${formatBytes(file.size)}`;
    // The picture is the first frame: unless the person chose an aspect, take the one nearest to it.
    if (!state.aspectChosen) {
      const ratio = Math.log(img.naturalWidth / img.naturalHeight);
      const nearest = ASPECTS.reduce((best, a) => {
        const [w, h] = a.split(":").map(Number);
        return Math.abs(Math.log(w / h) - ratio) < Math.abs(Math.log(best[0] / best[1]) - ratio) ? [w, h, a] : best;
      }, [16, 9, "16:9"])[2];
      if (setRadio("aspect", nearest)) { updatePreview(); scheduleAdvice(); }
    }
  };
  img.src = state.imageURL;
  $("#image-name").textContent = file.name;
  $("#image-meta").textContent = formatBytes(file.size);
  $("#drop-empty").hidden = true;
  $("#drop-full").hidden = false;
  $("#drop").classList.add("filled");
  updateMode();
}
function clearImage() {
  if (state.imageURL) URL.revokeObjectURL(state.imageURL);
  state.image = null;
  state.imageURL = null;
  $("#image-input").value = "";
  $("#image-preview").removeAttribute("src");
  $("#drop-empty").hidden = false;
  $("#drop-full").hidden = true;
  $("#drop").classList.remove("filled");
  updatePreview();
}
function formatBytes(n) {
  if (n < 1024 * 1024) return `${Math.max(1, Math.round(n / 1024))} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// ---- live advice -----------------------------------------------------------------------------------

let adviceTimer = null;
let adviceCtrl = null;
function scheduleAdvice() {
  clearTimeout(adviceTimer);
  adviceTimer = setTimeout(checkPrompt, ADVICE_DEBOUNCE_MS);
}
async function checkPrompt() {
  const f = form();
  adviceCtrl?.abort();
  if (f.prompt.length < 2) { state.advice = null; state.advicePrompt = f.prompt; renderAdvice(); return; }
  const ctrl = new AbortController();
  adviceCtrl = ctrl;
  const body = { prompt: f.prompt, aspect: f.aspect, seconds: f.seconds };
  if (f.camera !== "auto") body.camera = f.camera;
  if (f.style !== "auto") body.style = f.style;
  if (f.mode === "image") body.has_image = true;
  $("#advice").dataset.busy = "1";
  try {
    const plan = await api("v1/prompt/check", { method: "POST", json: body, signal: ctrl.signal });
    if (ctrl.signal.aborted) return;
    state.advice = plan;
    state.advicePrompt = f.prompt;
    renderAdvice();
  } catch (err) {
    if (ctrl.signal.aborted || err.name === "AbortError") return;
    if (err.status === 401) return signOut("signin.bad");
    state.advice = { error: err.message };
    state.advicePrompt = f.prompt;
    renderAdvice();
  } finally {
    if (adviceCtrl === ctrl) delete $("#advice").dataset.busy;
  }
}

function renderAdvice() {
  const box = $("#advice");
  const plan = state.advice;
  const chips = $("#advice-chips");
  const list = $("#advice-list");
  chips.textContent = "";
  list.textContent = "";
  const meter = $("#score-meter");
  box.dataset.for = state.advicePrompt ?? "";
  if (!plan || plan.error) {
    box.dataset.state = plan ? "error" : "empty";
    $("#advice-summary").textContent = plan ? t("advice.unavailable") : t("advice.empty");
    $("#advice-summary").lang = state.lang;
    $("#score-num").textContent = "–";
    meter.style.strokeDasharray = "0 100";
    updatePreview();
    return;
  }
  const score = clamp(Math.round(Number(plan.score) || 0), 0, 100);
  const level = plan.vague ? "vague" : score < 60 ? "fair" : "good";
  box.dataset.state = level;
  $("#score-num").textContent = String(score);
  meter.style.strokeDasharray = `${score} 100`;

  const camera = motionName(plan.camera);
  const style = motionName(plan.style);
  const subjects = Array.isArray(plan.subjects) ? plan.subjects.filter(Boolean) : [];
  // The verdict, what is missing and the suggestions speak the prompt's language (the planner writes
  // its suggestions in it); the chips are controls and speak the interface's.
  const adviceLang = [plan.advice_language, plan.language].find((l) => LANGS.includes(l)) || state.lang;
  const ta = adviceLang === state.lang ? t : makeT(adviceLang);
  const missing = [];
  if (Array.isArray(plan.missing)) {
    const names = { camera: "advice.camera", style: "advice.style", time_of_day: "advice.time", setting: "advice.setting" };
    for (const m of plan.missing) missing.push(names[m] ? ta(names[m]).toLowerCase() : humanWord(m));
  } else {
    if ("subjects" in plan && !subjects.length) missing.push(ta("advice.subject"));
    if (!plan.setting) missing.push(ta("advice.setting").toLowerCase());
    if (!plan.time_of_day) missing.push(ta("advice.time").toLowerCase());
    if ((!camera || !CAMERAS.includes(camera)) && form().camera === "auto") missing.push(ta("advice.camera").toLowerCase());
  }
  const summary = $("#advice-summary");
  summary.lang = adviceLang;
  list.lang = adviceLang;
  summary.textContent = ta(`advice.${level}`);
  summary.append(el("span", { class: "visually-hidden", text: ` · ${ta("advice.score")} ${score}/100` }));
  if (missing.length) summary.append(el("small", { class: "missing-line", text: ta("advice.missing", { list: missing.join(", ") }) }));

  if (plan.language) {
    const code = String(plan.language).toLowerCase();
    chips.append(el("span", { class: "chip", "data-chip": "language" },
      el("span", { class: "chip-k", text: t("advice.language") }),
      el("span", { text: [...LANGS, "mixed"].includes(code) ? t(`lang.${code}`) : code })));
  }
  chips.append(chipSelect("camera", camera, CAMERAS.slice(1), plan.camera_speed));
  chips.append(chipSelect("style", style, STYLES.slice(1)));
  if (subjects.length) chips.append(chipValue("advice.subjects", subjects.slice(0, 4).join(", "), "subjects"));
  chips.append(chipValue("advice.setting", plan.setting, "setting"));
  chips.append(chipValue("advice.time", plan.time_of_day, "time"));
  if (plan.weather) chips.append(chipValue("advice.weather", plan.weather, "weather"));

  for (const s of plan.suggestions || []) list.append(el("li", { class: "tip", text: readable(s) }));
  for (const w of plan.warnings || []) list.append(el("li", { class: "warn", text: readable(w) }));
  updatePreview();
}

/** A chip holding a <select>: the camera or style the prompt implies, which the person can change. */
function chipSelect(kind, value, options, speed) {
  const known = value && options.includes(value);
  const select = el("select", { "aria-label": t("advice.change", { what: t(`advice.${kind}`).toLowerCase() }), "data-kind": kind });
  // "lateral" / "any_motion": the text says the camera moves but not how; shown so the person picks.
  select.append(el("option", { value: "", text: value && !known ? label(kind, value) : t("advice.none") }));
  for (const o of options) select.append(el("option", { value: o, text: label(kind, o), selected: o === value }));
  if (!known) select.value = "";
  select.addEventListener("change", () => {
    setRadio(kind, select.value || "auto");
    updatePreview();
    scheduleAdvice();
  });
  const pace = known && kind === "camera" && speed ? (speed < 0.8 ? t("speed.slow") : speed > 1.3 ? t("speed.fast") : "") : "";
  return el("label", { class: `chip chip-select${known ? " found" : value ? " unsure" : " missing"}`, "data-chip": kind },
    el("span", { class: "chip-k", text: t(`advice.${kind}`) }), select, pace ? el("span", { class: "chip-x", text: pace }) : null);
}
function chipValue(key, value, name) {
  const raw = humanWord(value);
  const text = raw && typeof value === "string" ? t(`v.${value}`) === `v.${value}` ? raw : t(`v.${value}`) : raw;
  return el("span", { class: `chip${text ? " found" : " missing"}`, "data-chip": name },
    el("span", { class: "chip-k", text: t(key) }), el("span", { text: text || t("advice.none") }));
}

// ---- submit ----------------------------------------------------------------------------------------

const FIELD_FOR_PARAM = {
  prompt: "#prompt", seconds: "#duration", duration: "#duration", seed: "#seed",
  negative_prompt: "#negative", input_reference: "#image-input", image: "#image-input",
};

async function submit(event) {
  event.preventDefault();
  const f = form();
  const error = $("#form-error");
  error.textContent = "";
  $$("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
  if (f.mode === "image" && !state.image) { error.textContent = t("error.image"); $("#image-input").focus(); return; }
  if (f.mode === "text" && !f.prompt && !edit.shotsFields()) { error.textContent = t("error.prompt"); $("#prompt").setAttribute("aria-invalid", "true"); $("#prompt").focus(); return; }

  const shots = edit.shotsFields();
  if (shots?.error) { error.textContent = shots.error; shots.field.setAttribute("aria-invalid", "true"); shots.field.focus(); return; }
  const fields = { prompt: f.prompt, seconds: String(f.seconds), aspect: f.aspect, quality: f.quality };
  if (shots) { Object.assign(fields, shots); delete fields.seconds; if (!fields.prompt) delete fields.prompt; }
  if (f.style !== "auto") fields.style = f.style;
  if (f.camera !== "auto") fields.camera = f.camera;
  if (f.seed !== "") fields.seed = Number(f.seed);
  if (f.negative) fields.negative_prompt = f.negative;
  Object.assign(fields, postFields());

  const button = $("#submit");
  button.disabled = true;
  $("#submit-label").textContent = t("submit.sending");
  try {
    let video;
    if (f.mode === "image") {
      const data = new FormData();
      for (const [k, v] of Object.entries(fields)) data.append(k, String(v));
      data.append("input_reference", state.image, state.image.name);
      video = await api("v1/videos", { method: "POST", form: data });
    } else {
      video = await api("v1/videos", { method: "POST", json: fields });
    }
    state.session.add(video.id);
    upsert(video);
    toast(t("toast.queued", { prompt: short(video.prompt || f.prompt, 40) }));
    loadUsage();
    if (window.matchMedia("(max-width: 899px)").matches) $("#queue").scrollIntoView({ behavior: "smooth" });
  } catch (err) {
    if (err.status === 401) return signOut("signin.bad");
    error.textContent = err instanceof ApiError ? err.message : t("error.generic", { message: err.message });
    const target = FIELD_FOR_PARAM[err.param];
    if (target) $(target).setAttribute("aria-invalid", "true");
  } finally {
    button.disabled = !!state.spent;
    $("#submit-label").textContent = t("submit");
  }
}

function fillForm(v) {
  setRadio("mode", v.image_to_video ? "image" : "text");
  $("#prompt").value = v.prompt || "";
  setRadio("quality", v.quality === "high" ? "high" : "fast");
  $("#duration").value = String(clamp(Math.round(Number(v.seconds) || 5), 5, 30));
  setRadio("aspect", aspectOf(v));
  state.aspectChosen = true;
  const style = motionName(v.style);
  setRadio("style", STYLES.includes(style) ? style : "auto");
  const cam = motionName(v.camera);
  setRadio("camera", CAMERAS.includes(cam) ? cam : "auto");
  $("#seed").value = v.seed ?? "";
  $("#negative").value = v.negative_prompt || "";
  edit.fill(v);
  if (v.seed != null || v.negative_prompt) $("#more").open = true;
  fillPost(v);
  updateCount();
  updateMode();
  renderUsage();
  scheduleAdvice();
  $("#create").scrollIntoView({ behavior: "smooth", block: "start" });
  $("#prompt").focus({ preventScroll: true });
  toast(t(v.image_to_video && !state.image ? "again.image" : "toast.again"));
}

function updateCount() {
  const n = $("#prompt").value.length;
  $("#prompt-count").textContent = t("prompt.count", { n, max: 2000 });
}

// ---- queue ----------------------------------------------------------------------------------------

function queueItems() {
  const nowS = Date.now() / 1000;
  return [...state.videos.values()].filter((v) => {
    if (state.hidden.has(v.id)) return false;
    if (isActive(v) || state.session.has(v.id)) return true;
    const st = statusOf(v);
    return (st === "failed" || st === "canceled") && nowS - (v.completed_at || v.created_at || 0) < RECENT_S;
  }).sort((a, b) => (b.created_at || 0) - (a.created_at || 0));
}

function buildJob(v) {
  const bar = el("div", { class: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100" }, el("span"));
  return el("li", { class: "job", "data-id": v.id },
    el("div", { class: "job-thumb", "aria-hidden": "true" }, el("span", { class: "job-shape" })),
    el("div", { class: "job-main" },
      el("p", { class: "job-prompt" }),
      el("p", { class: "job-meta" }),
      bar,
      el("p", { class: "job-status" },
        el("span", { class: "status" }), el("span", { class: "pct" }), el("span", { class: "eta" }))),
    el("div", { class: "job-actions" }));
}

function updateJob(node, v) {
  const st = statusOf(v);
  const pct = progressOf(v);
  node.dataset.status = st;
  $(".job-prompt", node).textContent = short(v.prompt, 90);
  $(".job-prompt", node).title = v.prompt || "";
  $(".job-meta", node).textContent = metaLine(v);
  $(".job-shape", node).style.setProperty("--ar", arCSS(aspectOf(v)));
  const bar = $(".bar", node);
  bar.setAttribute("aria-valuenow", String(pct));
  bar.setAttribute("aria-valuetext", `${t(`status.${st}`)} ${pct}%`);
  bar.setAttribute("aria-label", `${t("job.progress")}: ${short(v.prompt, 40)}`);
  $("span", bar).style.width = `${pct}%`;
  const stage = st === "running" && v.stage ? t(`stage.${v.stage}`) : "";
  $(".status", node).textContent = t(`status.${st}`) + (stage && !stage.startsWith("stage.") ? ` · ${stage}` : "");
  $(".pct", node).textContent = st === "failed" || st === "canceled" ? "" : `${pct}%`;
  let eta = "";
  if (st === "running" || st === "queued") {
    eta = v.eta_seconds != null && Number(v.eta_seconds) >= 0 ? t("eta.left", { t: formatDuration(Number(v.eta_seconds)) }) : st === "running" ? t("eta.unknown") : "";
  } else if (st === "failed" && v.error?.message) {
    eta = v.error.message;
  }
  $(".eta", node).textContent = eta;

  const thumb = $(".job-thumb", node);
  if (st === "succeeded" && !thumb.dataset.loaded) {
    thumb.dataset.loaded = "1";
    mediaURL(v.id, "thumbnail").then((url) => { thumb.prepend(el("img", { src: url, alt: "" })); }, () => {});
  }

  const actions = $(".job-actions", node);
  const want = isActive(v) ? "cancel" : st === "succeeded" ? "watch" : "dismiss";
  if (actions.dataset.kind !== want) {
    actions.dataset.kind = want;
    actions.textContent = "";
    if (want === "cancel") {
      actions.append(el("button", { type: "button", class: "btn small ghost danger cancel", text: t("job.cancel"), onclick: (e) => cancelJob(v.id, e.currentTarget) }));
    } else if (want === "watch") {
      actions.append(el("button", { type: "button", class: "btn small ghost watch", onclick: () => openPlayer(v.id) }, svg(ICONS.play), el("span", { text: t("job.watch") })));
    } else {
      actions.append(el("button", { type: "button", class: "btn small ghost icon dismiss", "aria-label": t("job.dismiss"), title: t("job.dismiss"), onclick: () => { state.hidden.add(v.id); scheduleRender(); } }, svg(ICONS.x)));
    }
  }
}

async function cancelJob(id, button) {
  button.disabled = true;
  button.textContent = t("job.canceling");
  try {
    upsert(await api(`v1/videos/${encodeURIComponent(id)}/cancel`, { method: "POST" }));
    toast(t("toast.canceled"));
  } catch (err) {
    button.disabled = false;
    button.textContent = t("job.cancel");
    toast(err.message, "bad");
  }
}

function renderQueue() {
  const items = queueItems();
  const list = $("#queue-list");
  const keep = new Set(items.map((v) => v.id));
  for (const node of [...list.children]) if (!keep.has(node.dataset.id)) node.remove();
  items.forEach((v, i) => {
    let node = list.querySelector(`:scope > [data-id="${CSS.escape(v.id)}"]`);
    if (!node) node = buildJob(v);
    updateJob(node, v);
    if (list.children[i] !== node) list.insertBefore(node, list.children[i] || null);
  });
  $("#queue-empty").hidden = items.length > 0;
  const active = items.filter(isActive).length;
  $("#queue-count").hidden = active === 0;
  $("#queue-count").textContent = String(active);
  $("#queue-clear").hidden = !items.some((v) => !isActive(v));
}

// ---- gallery --------------------------------------------------------------------------------------

function galleryItems() {
  return [...state.videos.values()].filter((v) => statusOf(v) === "succeeded").sort((a, b) => (b.created_at || 0) - (a.created_at || 0));
}

function buildCard(v) {
  const poster = el("button", { type: "button", class: "poster", onclick: () => openPlayer(v.id) },
    el("span", { class: "poster-fill" }),
    el("span", { class: "play", "aria-hidden": "true" }, svg(ICONS.play)),
    el("span", { class: "dur" }));
  const actions = el("div", { class: "card-actions" },
    iconButton("download", "card.download", () => downloadVideo(v.id)),
    iconButton("again", "card.again", () => fillForm(state.videos.get(v.id) || v)),
    deleteButton(v.id, true));
  const card = el("article", { class: "card", "data-id": v.id }, poster,
    el("div", { class: "card-body" }, el("p", { class: "card-prompt" }), el("p", { class: "card-meta" }), actions));
  mediaURL(v.id, "thumbnail").then((url) => {
    const fill = $(".poster-fill", card);
    fill.style.backgroundImage = `url("${url}")`;
    poster.prepend(el("img", { src: url, alt: "", loading: "lazy" }));
    card.classList.add("has-poster");
  }, () => card.classList.add("no-poster"));
  return card;
}
function iconButton(icon, key, onclick) {
  return el("button", { type: "button", class: `btn ghost icon act-${icon}`, "data-i18n-aria-label": key, "data-i18n-title": key, "aria-label": t(key), title: t(key), onclick }, svg(ICONS[icon]));
}
function deleteButton(id, compact) {
  const button = el("button", { type: "button", class: `btn ghost danger ${compact ? "icon " : ""}act-delete`, "aria-label": t("card.delete"), title: t("card.delete") }, svg(ICONS.trash));
  if (!compact) button.append(el("span", { text: t("card.delete") }));
  let timer = null;
  button.addEventListener("click", async () => {
    if (!button.dataset.confirm) {
      button.dataset.confirm = "1";
      button.setAttribute("aria-label", t("card.confirm"));
      button.append(el("span", { class: "confirm", text: t("card.confirm") }));
      timer = setTimeout(() => { delete button.dataset.confirm; $(".confirm", button)?.remove(); button.setAttribute("aria-label", t("card.delete")); }, 4000);
      return;
    }
    clearTimeout(timer);
    button.disabled = true;
    try {
      await api(`v1/videos/${encodeURIComponent(id)}`, { method: "DELETE" });
      removeVideo(id);
      toast(t("toast.deleted"));
    } catch (err) {
      button.disabled = false;
      toast(err.message, "bad");
    }
  });
  return button;
}

function renderGallery() {
  const items = galleryItems();
  const grid = $("#gallery-grid");
  const keep = new Set(items.map((v) => v.id));
  for (const node of [...grid.children]) if (!keep.has(node.dataset.id)) node.remove();
  items.forEach((v, i) => {
    let node = grid.querySelector(`:scope > [data-id="${CSS.escape(v.id)}"]`);
    if (!node) node = buildCard(v);
    $(".card-prompt", node).textContent = short(v.prompt, 80);
    $(".card-prompt", node).title = v.prompt || "";
    $(".card-meta", node).textContent = [aspectOf(v), v.quality ? label("quality", v.quality) : "",
      v.provenance?.c2pa ? t("card.provenance") : "", relativeTime(v.completed_at || v.created_at)].filter(Boolean).join(" · ");
    $(".dur", node).textContent = t("duration.value", { n: Number(v.seconds) || 0 });
    $(".poster", node).setAttribute("aria-label", t("card.play", { prompt: short(v.prompt, 60) }));
    $(".poster", node).style.setProperty("--ar", arCSS(aspectOf(v)));
    if (grid.children[i] !== node) grid.insertBefore(node, grid.children[i] || null);
  });
  $("#gallery-empty").hidden = items.length > 0;
  $("#gallery-count").textContent = items.length ? t("gallery.count", { n: items.length }) : "";
}

let renderPending = false;
function scheduleRender() {
  if (renderPending) return;
  renderPending = true;
  setTimeout(() => { renderPending = false; renderQueue(); renderGallery(); }, 16);
}

// ---- player and download ------------------------------------------------------------------------------

async function openPlayer(id) {
  const v = state.videos.get(id);
  if (!v) return;
  const dialog = $("#player");
  const video = $("#player-video");
  state.playerId = id;
  dialog.style.setProperty("--ar", arCSS(aspectOf(v)));
  dialog.dataset.aspect = aspectOf(v);
  $("#player-title").textContent = v.prompt || t("untitled");
  const meta = $("#player-meta");
  meta.textContent = "";
  const rows = [
    [t("duration.title"), t("duration.value", { n: Number(v.seconds) || 0 })],
    [t("aspect.title"), aspectOf(v)],
    [t("player.size"), v.size],
    [t("quality.title"), v.quality ? label("quality", v.quality) : ""],
    [t("camera.title"), CAMERAS.includes(motionName(v.camera)) ? label("camera", motionName(v.camera)) : ""],
    [t("style.title"), STYLES.includes(motionName(v.style)) ? label("style", motionName(v.style)) : ""],
    [t("player.seed"), v.seed != null ? String(v.seed) : ""],
    [t("player.model"), v.model],
    [t("player.provenance"), v.provenance?.c2pa ? t(v.provenance.watermark ? "provenance.both" : "provenance.c2pa") : ""],
  ];
  for (const [k, val] of rows) if (val) meta.append(el("dt", { text: k }), el("dd", { text: val }));
  const notes = $("#player-warnings");
  notes.textContent = "";
  for (const w of v.warnings || []) notes.append(el("li", { text: readable(w) }));
  const del = $('[data-act="delete"]', dialog);
  const fresh = deleteButton(id, false);
  fresh.classList.remove("icon");
  fresh.dataset.act = "delete";
  del.replaceWith(fresh);
  edit.playerOpened(v);
  if (!dialog.open) dialog.showModal();
  mediaURL(id, "thumbnail").then((url) => { if (state.playerId === id) video.poster = url; }, () => {});
  try {
    const url = await mediaURL(id, "video");
    if (state.playerId !== id) return;
    video.src = url;
    await video.play().catch(() => {});
  } catch (err) {
    toast(err.message, "bad");
  }
}
function closePlayer() {
  const video = $("#player-video");
  video.pause();
  video.removeAttribute("src");
  video.removeAttribute("poster");
  video.load();
  state.playerId = null;
}

function fileName(v) {
  const slug = (v.prompt || "kadr").toLowerCase().replace(/[^\p{L}\p{N}]+/gu, "-").slice(0, 40).replace(/^-+|-+$/g, "");
  return `kadr-${slug || "video"}-${v.id.slice(-8)}.mp4`;
}
async function downloadVideo(id) {
  const v = state.videos.get(id);
  if (!v) return;
  if (!state.media.has(`${id}:video`)) toast(t("toast.download"));
  try {
    const url = await mediaURL(id, "video");
    const name = fileName(v);
    const a = el("a", { href: url, download: name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    toast(t("toast.saving", { name }), "ok");
  } catch (err) {
    toast(err.message, "bad");
  }
}

// ---- toasts, announcements -------------------------------------------------------------------------

function toast(text, kind = "") {
  const box = $("#toasts");
  const node = el("div", { class: `toast ${kind}`, text });
  box.append(node);
  while (box.children.length > 2) box.firstElementChild.remove();
  setTimeout(() => { node.classList.add("out"); setTimeout(() => node.remove(), 300); }, 4000);
}
function announce(text) {
  const node = $("#announcer");
  node.textContent = "";
  setTimeout(() => { node.textContent = text; }, 50);
}

// ---- language --------------------------------------------------------------------------------------

function applyLang(lang) {
  state.lang = lang;
  t = makeT(lang);
  $("#toasts").textContent = "";
  document.documentElement.lang = lang;
  document.title = t("app.title");
  for (const node of $$("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of $$("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
  for (const node of $$("[data-i18n-aria-label]")) node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
  for (const node of $$("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
  for (const b of $$(".lang button")) b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
  updateMode();
  updateCount();
  renderAdvice();
  renderUsage();
  setLive($("#live").dataset.state);
  edit.applyLang();
  // Rebuild dynamic rows so their words follow the language.
  $("#queue-list").textContent = "";
  $("#gallery-grid").textContent = "";
  scheduleRender();
}

// ---- sign in / out -----------------------------------------------------------------------------------

async function signIn(key) {
  state.key = key;
  state.user = await api("v1/me");
  writeStore(KEY_STORE, key);
  showApp();
}
function signOut(reasonKey) {
  stopLive();
  writeStore(KEY_STORE, null);
  state.key = "";
  state.user = null;
  state.videos.clear();
  state.session.clear();
  for (const p of state.media.values()) p.then((u) => URL.revokeObjectURL(u), () => {});
  state.media.clear();
  if ($("#player").open) $("#player").close();
  showSignin(reasonKey);
}
function showSignin(messageKey) {
  $("#app").hidden = true;
  $("#signout").hidden = true;
  $("#live").hidden = true;
  $("#user").hidden = true;
  document.body.classList.add("signed-out");
  $("#signin").hidden = false;
  $("#signin-error").textContent = messageKey ? t(messageKey) : "";
  $("#key-input").focus();
}
function showApp() {
  $("#signin").hidden = true;
  document.body.classList.remove("signed-out");
  $("#app").hidden = false;
  $("#signout").hidden = false;
  $("#live").hidden = false;
  $("#key-input").value = "";
  renderUsage();
  loadUsage();
  refreshList();
  edit.loadModels();
  startLive();
  scheduleAdvice();
}

// ---- wiring ----------------------------------------------------------------------------------------

function wire() {
  $("#signin-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const key = $("#key-input").value.trim();
    const error = $("#signin-error");
    if (!key) { error.textContent = t("signin.empty"); return; }
    const button = $("#signin-button");
    button.disabled = true;
    button.textContent = t("signin.checking");
    error.textContent = "";
    try {
      await signIn(key);
    } catch (err) {
      state.key = "";
      error.textContent = err instanceof ApiError ? t(err.status === 401 || err.status === 403 ? "signin.bad" : "signin.offline") : t("signin.offline");
    } finally {
      button.disabled = false;
      button.textContent = t("signin.button");
    }
  });
  $("#signout").addEventListener("click", () => signOut());
  for (const b of $$(".lang button")) b.addEventListener("click", () => { writeStore(LANG_STORE, b.dataset.lang); applyLang(b.dataset.lang); });

  const formNode = $("#create-form");
  formNode.addEventListener("submit", submit);
  formNode.addEventListener("change", (e) => {
    const name = e.target.name;
    if (name === "mode") { updateMode(); edit.renderShots(); }
    if (name === "aspect" && e.isTrusted) state.aspectChosen = true;
    if (["aspect", "camera", "style", "seconds"].includes(name)) { updatePreview(); scheduleAdvice(); }
    if (name === "quality") { renderUsage(); edit.renderShots(); }
    if (["quality", "upscale", "smooth"].includes(name)) updatePreview();
  });
  $("#duration").addEventListener("input", updatePreview);
  $("#prompt").addEventListener("input", () => { updateCount(); $("#prompt").removeAttribute("aria-invalid"); scheduleAdvice(); });
  $("#prompt").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) formNode.requestSubmit(); });
  $("#seed-random").addEventListener("click", () => { $("#seed").value = String(Math.floor(Math.random() * 2 ** 32)); });

  $("#image-input").addEventListener("change", (e) => setImage(e.target.files[0]));
  $("#image-clear").addEventListener("click", clearImage);
  const create = $("#create");
  const drop = $("#drop");
  let depth = 0;
  create.addEventListener("dragenter", (e) => { if (hasFile(e)) { depth++; drop.hidden = false; drop.classList.add("over"); } });
  create.addEventListener("dragleave", () => { if (--depth <= 0) { depth = 0; drop.classList.remove("over"); if (form().mode !== "image") drop.hidden = true; } });
  create.addEventListener("dragover", (e) => { if (hasFile(e)) e.preventDefault(); });
  create.addEventListener("drop", (e) => {
    if (!hasFile(e)) return;
    e.preventDefault();
    depth = 0;
    drop.classList.remove("over");
    setImage(e.dataTransfer.files[0]);
  });

  $("#queue-clear").addEventListener("click", () => {
    for (const v of state.videos.values()) if (!isActive(v)) state.hidden.add(v.id);
    scheduleRender();
  });

  const dialog = $("#player");
  $("#player-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", closePlayer);
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
  $('[data-act="download"]', dialog).addEventListener("click", () => state.playerId && downloadVideo(state.playerId));
  $('[data-act="again"]', dialog).addEventListener("click", () => {
    const v = state.videos.get(state.playerId);
    dialog.close();
    if (v) fillForm(v);
  });

  setInterval(() => { if (!$("#app").hidden) renderGallery(); }, 30000); // "2 min ago" stays true
}
const hasFile = (e) => [...(e.dataTransfer?.types || [])].includes("Files");

let edit = null; // the shots editor and the extend form (edit.js)

async function boot() {
  buildPresets();
  wire();
  edit = installEdit({ $, el, api, state, upsert, toast, short, loadUsage, cameras: CAMERAS, t: () => t,
                       mode: () => form().mode, tier: () => form().quality });
  applyLang(state.lang);
  loadPostCosts().then(updatePreview);
  if (!state.key) return showSignin();
  try {
    state.user = await api("v1/me");
    showApp();
  } catch (err) {
    if (err.status === 401 || err.status === 403) { writeStore(KEY_STORE, null); state.key = ""; showSignin("signin.bad"); }
    else { $("#key-input").value = state.key; showSignin("signin.offline"); }
  }
}

boot();
