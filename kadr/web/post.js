// Finish: the "Upscale" and "Smooth motion" controls, their API fields, and the time each adds to this
// video before it is submitted. The seconds a frame come from post_costs.json, written by
// `python bench/bench_post.py --sections costs --write-costs kadr/web/post_costs.json` (measured, per
// quality tier's frame size); the page multiplies them by the frames of the chosen duration.

const $ = (sel) => document.querySelector(sel);
let costs = null; // post_costs.json, once loaded

export async function loadPostCosts() {
  try {
    const res = await fetch("post_costs.json", { cache: "no-cache" });
    if (res.ok) costs = await res.json();
  } catch { costs = null; }
}

/** The API fields for the controls' state: none when both are off (the tier's choice, which is off). */
export function postFields() {
  const fields = {};
  const upscale = $("#upscale").value;
  if (upscale !== "off") fields.upscale = upscale;
  if ($("#smooth").checked) fields.smooth = true;
  return fields;
}

/** "Again with these settings": the controls as a video object says it was made. */
export function fillPost(video) {
  $("#upscale").value = ["2x", "4x", "720p"].includes(video.upscale) ? video.upscale : "off";
  $("#smooth").checked = video.smooth === true;
}

/** Seconds ``upscale`` ("off", "2x" ...) and ``smooth`` add to a video of ``seconds`` at ``tier``; null if unmeasured. */
export function addedSeconds(tier, seconds, upscale, smooth) {
  const row = costs?.tiers?.[tier];
  if (!row) return null;
  const frames = seconds * (costs.fps || 24);
  const outFrames = smooth ? 2 * frames : frames; // smooth motion doubles the frames the upscaler sees
  let s = smooth ? row.smooth_s_per_output_frame * outFrames : 0;
  if (upscale !== "off") {
    const perFrame = row.upscale_s_per_frame?.[upscale];
    if (perFrame == null) return null;
    s += perFrame * outFrames;
  }
  return s;
}

/** Write each choice's added time next to it (in the options too, so it shows before a choice is made). */
export function renderPostCosts({ t, fmt, quality, seconds }) {
  const smooth = $("#smooth").checked;
  const select = $("#upscale");
  for (const option of select.options) {
    if (option.value === "off") { option.textContent = t("post.off"); continue; }
    const s = addedSeconds(quality, seconds, option.value, smooth);
    option.textContent = s == null ? option.value : `${option.value} · +${fmt(s)}`;
  }
  const up = select.value === "off" ? null : addedSeconds(quality, seconds, select.value, smooth);
  const upCost = $("#upscale-cost");
  upCost.textContent = up == null ? "" : t("post.adds", { time: fmt(up), n: seconds });
  upCost.toggleAttribute("data-slow", up != null && up > 60);
  // What ticking smooth motion adds on top of the upscale chosen (the upscaler then sees twice the frames).
  const withSmooth = addedSeconds(quality, seconds, select.value, true);
  const without = addedSeconds(quality, seconds, select.value, false);
  const sm = withSmooth == null || without == null ? null : withSmooth - without;
  $("#smooth-cost").textContent = sm == null ? "" : t("post.adds", { time: fmt(sm), n: seconds });
  $("#post-note").textContent = costs ? t("post.note", { cores: costs.cores, date: costs.date }) : t("post.unmeasured");
}
