// Going on from a video, on the studio page (issue 18): the shots editor of the create form and the
// "Extend" button of a finished video. Only what the chosen model can do is offered: each model's
// `features` come from GET /v1/models, and a feature it lacks is shown disabled with the reason.
// app.js hands in what it shares (api, the translate function, the element builder, its state).

import { STRINGS } from "./i18n.js";

const MAX_SECONDS = 30;
const MAX_SHOTS = 12;

Object.assign(STRINGS.en, {
  "shots.title": "Shots",
  "shots.hint": "Several shots in one video, each with its own prompt, camera and length. Leave empty for one shot.",
  "shots.add": "Add shot",
  "shots.n": "Shot {n}",
  "shots.prompt": "What shot {n} shows",
  "shots.duration": "Seconds of shot {n}",
  "shots.camera": "Camera of shot {n}",
  "shots.up": "Move shot {n} up",
  "shots.down": "Move shot {n} down",
  "shots.remove": "Remove shot {n}",
  "shots.total": "{n} s in all",
  "shots.crossfade": "Cross-fade between shots",
  "shots.image": "Shots are for text to video: remove the image to use them.",
  "shots.empty": "Shot {n} needs a prompt.",
  "shots.long": "The shots are {n} s in all; a video is at most 30 s.",
  "extend.button": "Extend",
  "extend.title": "Extend this video",
  "extend.seconds": "Seconds to add",
  "extend.prompt": "What happens next (optional)",
  "extend.prompt.placeholder": "Leave empty to go on as before",
  "extend.submit": "Extend by {n} s",
  "extend.full": "This video is 30 s already, the longest kadr makes.",
  "extend.queued": "Extending: {prompt}",
  "feature.cannot": "{model} cannot {what}.",
  "feature.extend": "continue a video from its last frames",
  "feature.shots": "make several shots in one video",
  "feature.unknown": "The models are still loading.",
});
Object.assign(STRINGS.ru, {
  "shots.title": "Сцены",
  "shots.hint": "Несколько сцен в одном видео, у каждой свой промпт, камера и длина. Пусто — одна сцена.",
  "shots.add": "Добавить сцену",
  "shots.n": "Сцена {n}",
  "shots.prompt": "Что в сцене {n}",
  "shots.duration": "Секунд в сцене {n}",
  "shots.camera": "Камера сцены {n}",
  "shots.up": "Сцену {n} выше",
  "shots.down": "Сцену {n} ниже",
  "shots.remove": "Убрать сцену {n}",
  "shots.total": "Всего {n} с",
  "shots.crossfade": "Плавный переход между сценами",
  "shots.image": "Сцены — для видео из текста: уберите картинку, чтобы их добавить.",
  "shots.empty": "В сцене {n} нет промпта.",
  "shots.long": "Сцены вместе идут {n} с, а видео — не длиннее 30 с.",
  "extend.button": "Продлить",
  "extend.title": "Продлить это видео",
  "extend.seconds": "Сколько секунд добавить",
  "extend.prompt": "Что дальше (необязательно)",
  "extend.prompt.placeholder": "Пусто — продолжить как было",
  "extend.submit": "Продлить на {n} с",
  "extend.full": "Видео уже 30 с — это самое длинное, что делает kadr.",
  "extend.queued": "Продлеваем: {prompt}",
  "feature.cannot": "{model} не умеет {what}.",
  "feature.extend": "продолжать видео с последних кадров",
  "feature.shots": "делать несколько сцен в одном видео",
  "feature.unknown": "Модели ещё загружаются.",
});

/** Wire the shots editor and the extend form; returns the hooks app.js calls. */
export function installEdit(ctx) {
  const { $, el, api, state } = ctx;
  const t = (key, vars) => ctx.t()(key, vars);
  const models = new Map(); // id -> model object of GET /v1/models
  let shotIds = 0;

  // ---- what each model can do -------------------------------------------------------------------

  async function loadModels() {
    try {
      const list = await api("v1/models");
      models.clear();
      for (const m of list.data || []) models.set(m.id, m);
    } catch { /* offered as "still loading"; the server refuses what it cannot do anyway */ }
    renderShots();
    if (state.playerId) renderExtend(state.videos.get(state.playerId));
  }
  const modelForTier = (tier) => [...models.values()].find((m) => (m.tiers || []).includes(tier));
  /** null when the model can, else the sentence saying why not. */
  function whyNot(model, feature) {
    if (!model) return t("feature.unknown");
    if ((model.features || []).includes(feature)) return null;
    return t("feature.cannot", { model: model.id, what: t(`feature.${feature}`) });
  }

  // ---- shots --------------------------------------------------------------------------------------

  const list = $("#shots-list");
  function shotRows() { return [...list.children]; }

  function addShot(values = {}) {
    if (shotRows().length >= MAX_SHOTS) return;
    const id = ++shotIds;
    const camera = el("select", { class: "shot-camera", id: `shot-camera-${id}` });
    for (const c of ctx.cameras) camera.append(el("option", { value: c }));
    camera.value = values.camera || "auto";
    const row = el("li", { class: "shot", "data-shot": String(id) },
      el("span", { class: "shot-n" }),
      el("input", { class: "shot-prompt", type: "text", maxlength: "2000", id: `shot-prompt-${id}`, value: values.prompt || "" }),
      el("input", { class: "shot-duration", type: "number", min: "1", max: String(MAX_SECONDS), step: "1", inputmode: "numeric",
                    id: `shot-duration-${id}`, value: String(values.duration || 5) }),
      camera,
      el("span", { class: "shot-actions" },
        el("button", { type: "button", class: "btn ghost icon small shot-up", text: "↑", onclick: () => move(row, -1) }),
        el("button", { type: "button", class: "btn ghost icon small shot-down", text: "↓", onclick: () => move(row, 1) }),
        el("button", { type: "button", class: "btn ghost icon small danger shot-remove", text: "×",
                       onclick: () => { row.remove(); renderShots(); } })));
    row.addEventListener("input", () => { row.querySelector(".shot-prompt").removeAttribute("aria-invalid"); renderShots(); });
    list.append(row);
    renderShots();
    row.querySelector(".shot-prompt").focus();
  }
  function move(row, step) {
    const rows = shotRows();
    const to = rows.indexOf(row) + step;
    if (to < 0 || to >= rows.length) return;
    if (step < 0) list.insertBefore(row, rows[to]); else list.insertBefore(rows[to], row);
    renderShots();
    row.querySelector(step < 0 ? ".shot-up" : ".shot-down").focus();
  }

  function renderShots() {
    const box = $("#shots");
    const image = ctx.mode() === "image";
    const model = modelForTier(ctx.tier());
    const why = image ? t("shots.image") : whyNot(model, "shots");
    box.dataset.available = String(!why);
    $("#shots-why").textContent = why || t("shots.hint");
    $("#shot-add").disabled = !!why || shotRows().length >= MAX_SHOTS;
    $("#shot-add").textContent = t("shots.add");
    $("#shots-legend").textContent = t("shots.title");
    $("#shots-crossfade-label").textContent = t("shots.crossfade");
    const rows = shotRows();
    list.hidden = !!why || rows.length === 0;
    $("#shots-foot").hidden = !!why || rows.length === 0;
    rows.forEach((row, i) => {
      const n = i + 1;
      row.querySelector(".shot-n").textContent = t("shots.n", { n });
      row.querySelector(".shot-prompt").setAttribute("aria-label", t("shots.prompt", { n }));
      row.querySelector(".shot-duration").setAttribute("aria-label", t("shots.duration", { n }));
      row.querySelector(".shot-camera").setAttribute("aria-label", t("shots.camera", { n }));
      for (const [cls, key] of [[".shot-up", "shots.up"], [".shot-down", "shots.down"], [".shot-remove", "shots.remove"]]) {
        const b = row.querySelector(cls);
        b.setAttribute("aria-label", t(key, { n }));
        b.title = t(key, { n });
      }
      row.querySelector(".shot-up").disabled = i === 0;
      row.querySelector(".shot-down").disabled = i === rows.length - 1;
      for (const option of row.querySelectorAll("option")) {
        option.textContent = t(`camera.${option.value}`);
      }
    });
    const total = rows.reduce((sum, row) => sum + (Number(row.querySelector(".shot-duration").value) || 0), 0);
    $("#shots-total").textContent = t("shots.total", { n: total });
    // With shots the video's length is theirs: the duration slider steps aside.
    $("#duration").disabled = rows.length > 0 && !why;
  }

  /** The create body's shots (null: none, or not offered), or {error, field} when one is not right. */
  function shotsFields() {
    const rows = shotRows();
    if (!rows.length || $("#shots").dataset.available !== "true") return null;
    const shots = [];
    for (const [i, row] of rows.entries()) {
      const input = row.querySelector(".shot-prompt");
      const prompt = input.value.trim();
      if (!prompt) return { error: t("shots.empty", { n: i + 1 }), field: input };
      const shot = { prompt, duration: Math.round(Number(row.querySelector(".shot-duration").value) || 5) };
      const camera = row.querySelector(".shot-camera").value;
      if (camera !== "auto") shot.camera = camera;
      shots.push(shot);
    }
    const total = shots.reduce((sum, s) => sum + s.duration, 0);
    if (total > MAX_SECONDS) return { error: t("shots.long", { n: total }), field: rows[0].querySelector(".shot-duration") };
    return { shots, transition: $("#shots-crossfade").checked ? "crossfade" : "cut" };
  }

  // ---- extend ---------------------------------------------------------------------------------------

  function renderExtend(v) {
    const formNode = $("#extend-form");
    const button = $('[data-act="extend"]');
    if (!v) { formNode.hidden = true; return; }
    const seconds = Number(v.seconds) || 0;
    const room = Math.floor(MAX_SECONDS - seconds + 1e-6);
    const why = room < 1 ? t("extend.full") : whyNot(models.get(v.model), "extend");
    button.disabled = !!why;
    button.title = why || t("extend.title");
    $("#extend-why").textContent = why || "";
    $("#extend-why").hidden = !why;
    $("#extend-button-label").textContent = t("extend.button");
    $("#extend-title").textContent = t("extend.title");
    $("#extend-seconds-label").textContent = t("extend.seconds");
    $("#extend-prompt-label").textContent = t("extend.prompt");
    $("#extend-prompt").placeholder = t("extend.prompt.placeholder");
    const input = $("#extend-seconds");
    input.max = String(Math.max(1, room));
    if (Number(input.value) > room) input.value = String(Math.max(1, room));
    $("#extend-submit").textContent = t("extend.submit", { n: Number(input.value) || 0 });
    if (why) formNode.hidden = true;
  }

  async function extend(event) {
    event.preventDefault();
    const id = state.playerId;
    const v = state.videos.get(id);
    if (!v) return;
    const error = $("#extend-error");
    error.textContent = "";
    const body = { video: { id }, seconds: Math.round(Number($("#extend-seconds").value) || 0) };
    const prompt = $("#extend-prompt").value.trim();
    if (prompt) body.prompt = prompt;
    const submit = $("#extend-submit");
    submit.disabled = true;
    try {
      const made = await api("v1/videos/extensions", { method: "POST", json: body });
      state.session.add(made.id);
      ctx.upsert(made);
      ctx.toast(t("extend.queued", { prompt: ctx.short(made.prompt || v.prompt || "", 40) }));
      ctx.loadUsage();
      $("#extend-form").hidden = true;
      $("#player").close();
    } catch (err) {
      error.textContent = err.message;
    } finally {
      submit.disabled = false;
    }
  }

  $("#shot-add").addEventListener("click", () => addShot());
  $("#shots-crossfade").addEventListener("change", renderShots);
  $('[data-act="extend"]').addEventListener("click", () => {
    const formNode = $("#extend-form");
    formNode.hidden = !formNode.hidden;
    if (!formNode.hidden) $("#extend-seconds").focus();
  });
  $("#extend-seconds").addEventListener("input", () => renderExtend(state.videos.get(state.playerId)));
  $("#extend-form").addEventListener("submit", extend);

  return {
    loadModels,
    renderShots,
    shotsFields,
    /** "Again with these settings": the video's shots back in the editor (none for a one-shot video). */
    fill(v) {
      list.textContent = "";
      for (const shot of v.shots || []) addShot({ prompt: shot.prompt, duration: Math.round(shot.duration), camera: shot.camera });
      $("#shots-crossfade").checked = v.transition === "crossfade";
      renderShots();
    },
    playerOpened(v) { $("#extend-form").hidden = true; $("#extend-error").textContent = ""; renderExtend(v); },
    applyLang() { renderShots(); if (state.playerId) renderExtend(state.videos.get(state.playerId)); },
  };
}
