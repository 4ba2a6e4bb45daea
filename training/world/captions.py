"""Captions in Russian and English from many templates and synonyms, true to the scene's labels.

The phrasings of eval/prompts.json are in-domain: "Ночной город, огни, машины едут,
статичная камера", "Sunset over the sea, waves, the camera pans from right to left", "Лес утром,
туман, камера поднимается вверх", "A park in autumn, people walking, camera pans left to right,
watercolor painting style", ... The camera is sometimes left out of the caption: the model always
gets it as an explicit signal too.
"""

from __future__ import annotations

import numpy as np

from training.world.scene import Scene

Pool = list[str]
_G = ("m", "f", "n", "pl")


def _one(rng: np.random.Generator, options: Pool) -> str:
    return options[int(rng.integers(len(options)))]


# --- settings: (phrase, grammatical gender) for Russian so adjectives agree --------------------------
_SET_RU: dict[str, list[tuple[str, str]]] = {
    "park": [("парк", "m"), ("городской парк", "m"), ("парк с деревьями", "m"), ("аллея в парке", "f"), ("сквер", "m")],
    "beach": [("пляж", "m"), ("море", "n"), ("морской берег", "m"), ("берег моря", "m"), ("побережье", "n"), ("песчаный пляж", "m")],
    "city": [("город", "m"), ("городская улица", "f"), ("улица", "f"), ("улица города", "f"), ("центр города", "m")],
    "mountains": [("горы", "pl"), ("горный пейзаж", "m"), ("горная долина", "f"), ("горные вершины", "pl")],
    "forest": [("лес", "m"), ("хвойный лес", "m"), ("лесная чаща", "f"), ("лес с высокими деревьями", "m")],
    "field": [("поле", "n"), ("луг", "m"), ("поле с травой", "n"), ("равнина", "f")],
    "desert": [("пустыня", "f"), ("песчаные дюны", "pl"), ("барханы", "pl"), ("пустыня с дюнами", "f")],
    "lake": [("озеро", "n"), ("тихое озеро", "n"), ("берег озера", "m"), ("лесное озеро", "n")],
}
_SET_RU_SEASON = {
    ("field", "summer"): [("поле с цветами", "n"), ("цветущий луг", "m"), ("луг с цветами", "m")],
    ("field", "autumn"): [("золотое поле", "n"), ("пшеничное поле", "n")],
    ("mountains", "winter"): [("заснеженные горы", "pl")],
    ("park", "autumn"): [("осенний парк", "m")],
    ("forest", "autumn"): [("осенний лес", "m")],
    ("forest", "winter"): [("зимний лес", "m"), ("заснеженный лес", "m")],
}
_SET_EN: dict[str, Pool] = {
    "park": ["a park", "park", "city park", "a park with trees", "park alley"],
    "beach": ["beach", "the sea", "seashore", "sea coast", "sandy beach", "ocean shore"],
    "city": ["city street", "city street", "city", "a street", "downtown street", "urban street"],
    "mountains": ["mountains", "mountain landscape", "mountain valley", "mountain peaks", "snowy mountains"],
    "forest": ["forest", "woods", "pine forest", "a forest with tall trees"],
    "field": ["field", "meadow", "grassland", "open field"],
    "desert": ["desert", "sand dunes", "desert dunes", "sandy desert"],
    "lake": ["lake", "calm lake", "lake shore", "lakeside", "forest lake"],
}
_SET_EN_SEASON = {
    ("field", "summer"): ["field with flowers", "flower meadow", "meadow with wildflowers"],
    ("field", "autumn"): ["golden field", "wheat field"],
    ("mountains", "winter"): ["snow-covered mountains"],
    ("park", "autumn"): ["autumn park"],
    ("forest", "autumn"): ["autumn forest"],
    ("forest", "winter"): ["winter forest", "snowy forest"],
}

# --- time of day -------------------------------------------------------------------------------------
_TIME_ADJ_RU = {
    "night": ("ночной", "ночная", "ночное", "ночные"),
    "sunrise": ("утренний", "утренняя", "утреннее", "утренние"),
    "sunset": ("вечерний", "вечерняя", "вечернее", "вечерние"),
    "day": ("дневной", "дневная", "дневное", "дневные"),
}
_SUNNY_RU = ("солнечный", "солнечная", "солнечное", "солнечные")
_TIME_POST_RU = {
    "sunrise": ["на рассвете", "утром", "ранним утром", "на восходе солнца"],
    "day": ["днём", "в полдень", "днём при ярком свете"],
    "sunset": ["на закате", "вечером", "на закате солнца"],
    "night": ["ночью", "в ночи", "ночью под луной"],
}
_TIME_PRE_RU = {
    "sunrise": ["Рассвет", "Раннее утро", "Восход солнца", "Утро"],
    "day": ["День", "Полдень", "Дневной свет"],
    "sunset": ["Закат", "Вечер", "Закат солнца", "Золотой час"],
    "night": ["Ночь", "Тёмная ночь", "Поздняя ночь"],
}
_TIME_ADJ_EN = {"night": ["night", "nighttime"], "sunrise": ["morning", "dawn"], "sunset": ["evening", "sunset"], "day": ["daytime"]}
_TIME_POST_EN = {
    "sunrise": ["at dawn", "at sunrise", "in the morning", "in the early morning"],
    "day": ["during the day", "in the daytime", "at noon"],
    "sunset": ["at sunset", "in the evening", "at dusk"],
    "night": ["at night", "at nighttime", "under the night sky"],
}
_TIME_PRE_EN = {
    "sunrise": ["Dawn", "Sunrise", "Early morning"],
    "day": ["Daytime", "Midday", "Broad daylight"],
    "sunset": ["Sunset", "Golden hour", "Dusk", "Evening"],
    "night": ["Night", "Nighttime", "Late night"],
}

# --- weather -------------------------------------------------------------------------------------------
_WEATHER_RU = {
    "clear": ["ясное небо", "безоблачное небо", "ясная погода"],
    "clouds": ["облачно", "облачное небо", "пасмурно", "тучи на небе"],
    "rain": ["дождь", "идёт дождь", "дождливая погода", "ливень"],
    "snow": ["снег", "идёт снег", "снегопад", "падает снег"],
    "fog": ["туман", "в тумане", "густой туман", "дымка", "туманно"],
}
_WEATHER_ADJ_RU = {
    "rain": ("дождливый", "дождливая", "дождливое", "дождливые"),
    "fog": ("туманный", "туманная", "туманное", "туманные"),
    "snow": ("снежный", "снежная", "снежное", "снежные"),
    "clouds": ("пасмурный", "пасмурная", "пасмурное", "пасмурные"),
}
_WEATHER_EN = {
    "clear": ["clear sky", "cloudless sky", "clear weather"],
    "clouds": ["cloudy", "cloudy sky", "overcast", "clouds"],
    "rain": ["rain", "rainy", "in the rain", "heavy rain", "raining"],
    "snow": ["snow", "snowing", "snowfall", "falling snow"],
    "fog": ["fog", "foggy", "mist", "misty", "thick fog"],
}
_WEATHER_ADJ_EN = {"rain": "rainy", "fog": "foggy", "snow": "snowy", "clouds": "cloudy"}
_WITH_EN = {"rain": "rain", "fog": "fog", "snow": "falling snow", "clouds": "clouds"}

# --- movers --------------------------------------------------------------------------------------------
_MOVER_RU = {
    "people": ["люди гуляют", "гуляющие люди", "прохожие", "люди идут", "пешеходы"],
    "cars": ["машины едут", "автомобили", "поток машин", "движение машин", "едут машины"],
    "waves": ["волны", "волны набегают на берег", "прибой", "морские волны"],
    "clouds": ["облака плывут", "плывущие облака", "облака медленно движутся", "бегут облака"],
    "birds": ["птицы летают", "летящие птицы", "птицы в небе", "стая птиц"],
    "swaying_trees": ["деревья качаются на ветру", "ветер качает деревья", "листва колышется на ветру"],
    "rain": ["капли дождя", "идёт дождь"],
    "snow": ["снежинки падают", "падает снег", "кружится снег"],
    "butterflies": ["бабочки", "бабочки летают", "порхают бабочки"],
    "boats": ["лодки", "парусники", "лодка плывёт", "парусные лодки"],
}
_MOVER_EN = {
    "people": ["people walking", "pedestrians", "people strolling", "walking people"],
    "cars": ["cars", "cars driving", "traffic", "cars passing by"],
    "waves": ["waves", "waves rolling onto the shore", "surf", "ocean waves"],
    "clouds": ["clouds drifting", "moving clouds", "drifting clouds", "clouds floating by"],
    "birds": ["birds flying", "flying birds", "a flock of birds", "birds in the sky"],
    "swaying_trees": ["trees swaying in the wind", "swaying trees", "wind in the trees"],
    "rain": ["falling rain", "raindrops"],
    "snow": ["falling snow", "snowflakes falling"],
    "butterflies": ["butterflies", "butterflies fluttering"],
    "boats": ["boats", "sailboats", "a boat drifting", "sailing boats"],
}
_WITH_MOVER_EN = {"people": "people", "cars": "cars", "waves": "waves", "birds": "birds", "boats": "boats",
                  "butterflies": "butterflies", "clouds": "drifting clouds", "swaying_trees": "swaying trees"}
_WITH_MOVER_RU = {"people": "с прохожими", "cars": "с машинами", "waves": "с волнами", "birds": "с птицами",
                  "boats": "с лодками", "butterflies": "с бабочками"}

# --- camera: {adv} / {adj...} slots take the speed words ---------------------------------------------
_CAM_RU = {
    "static": ["статичная камера", "неподвижная камера", "камера стоит на месте", "статичный кадр", "съёмка со штатива",
               "камера не двигается", "без движения камеры"],
    "pan_right": ["панорама слева направо", "камера {adv}движется слева направо", "камера {adv}поворачивается вправо",
                  "{adj_f}панорама вправо", "панорамирование вправо", "камера {adv}панорамирует вправо"],
    "pan_left": ["панорама справа налево", "камера {adv}движется справа налево", "камера {adv}поворачивается влево",
                 "{adj_f}панорама влево", "панорамирование влево", "камера {adv}панорамирует влево"],
    "tilt_up": ["камера {adv}поднимается вверх", "камера {adv}наклоняется вверх", "наклон камеры вверх",
                "камера {adv}поднимает взгляд к небу", "панорама снизу вверх"],
    "tilt_down": ["камера {adv}опускается вниз", "камера {adv}наклоняется вниз", "наклон камеры вниз",
                  "камера {adv}опускает взгляд", "панорама сверху вниз"],
    "zoom_in": ["камера {adv}приближается", "{adj_n}приближение", "наезд камеры", "камера {adv}наезжает",
                "камера {adv}приближает план"],
    "zoom_out": ["камера {adv}отдаляется", "{adj_n}отдаление", "отъезд камеры", "камера {adv}отъезжает назад",
                 "камера {adv}удаляется"],
}
_CAM_EN = {
    "static": ["static camera", "still camera", "locked-off shot", "the camera does not move", "tripod shot",
               "fixed camera", "static shot"],
    "pan_right": ["camera pans left to right", "the camera {adv}pans from left to right", "{adj}pan right", "pan right",
                  "the camera {adv}turns right", "panning right", "camera moves left to right"],
    "pan_left": ["camera pans right to left", "the camera {adv}pans from right to left", "{adj}pan left", "pan left",
                 "the camera {adv}turns left", "panning left", "camera moves right to left"],
    "tilt_up": ["tilt up", "the camera {adv}tilts up", "camera tilts upward toward the sky", "{adj}tilt up",
                "the camera looks up", "camera tilting up"],
    "tilt_down": ["tilt down", "the camera {adv}tilts down", "camera tilts downward", "{adj}tilt down",
                  "the camera looks down", "camera tilting down"],
    "zoom_in": ["zoom in", "camera moves closer", "the camera {adv}zooms in", "{adj}zoom in", "the camera pushes in",
                "push in", "camera moving closer"],
    "zoom_out": ["zoom out", "camera pulls back", "the camera {adv}zooms out", "{adj}zoom out", "the camera pulls away",
                 "pull back", "camera moving away"],
}
_ALONG_RU = ["камера движется вдоль берега", "камера скользит вдоль берега"]
_ALONG_EN = ["the camera moves along the shore", "camera tracking along the shore"]
_SMOOTH_RU = ["камера движется плавно", "плавное движение камеры"]
_SMOOTH_EN = ["the camera moves smoothly", "smooth camera movement"]

# --- style --------------------------------------------------------------------------------------------
_STYLE_RU = {
    "realistic": ["кинематографический", "стиль кинематографический", "кинематографичный кадр", "реалистично",
                  "фотореалистичный", "лёгкая и естественная съёмка", "естественный свет", "реалистичное видео"],
    "animation": ["анимация", "мультфильм", "мультяшный стиль", "в стиле анимации", "2D-анимация", "рисованная анимация",
                  "стиль мультфильма"],
    "watercolor": ["акварель", "в стиле акварели", "акварельная живопись", "акварельный рисунок", "нарисовано акварелью"],
    "oil": ["масляная живопись", "в стиле масляной живописи", "картина маслом", "живопись маслом", "художественный стиль"],
}
_STYLE_EN = {
    "realistic": ["cinematic", "cinematic style", "photorealistic", "realistic", "natural light", "natural footage",
                  "realistic video", "cinematic shot"],
    "animation": ["animation", "cartoon", "cartoon style", "2D animation", "animated", "flat animation style"],
    "watercolor": ["watercolor painting style", "watercolor", "watercolour painting", "in watercolor", "watercolor illustration"],
    "oil": ["oil painting", "oil painting style", "painterly", "artistic style", "impressionist oil painting", "painted in oils"],
}
_SEASON_RU = {"autumn": ["осень", "осенью", "осенняя листва"], "winter": ["зима", "зимой", "снег лежит на земле"]}
_SEASON_EN = {"autumn": ["in autumn", "autumn", "autumn leaves"], "winter": ["in winter", "winter", "snow on the ground"]}
# Where the season shows in the picture: autumn colours on trees and grass, winter snow on the ground.
_SEASON_SHOWS = {
    "autumn": ("park", "forest", "field", "lake", "mountains"),
    "winter": ("park", "forest", "field", "lake", "mountains", "city", "beach"),
}


def season_shows(scene: Scene) -> bool:
    return scene.setting in _SEASON_SHOWS.get(scene.season, ())


def _speed_words(speed: float, lang: str, rng: np.random.Generator) -> dict[str, str]:
    """Fill the {adv}/{adj} slots: slow and fast speeds are named, normal ones usually not."""
    kind = "slow" if speed < 0.75 else "fast" if speed > 1.5 else "normal"
    if kind == "normal" or rng.random() < 0.3:
        return dict(adv="", adj="", adj_f="", adj_n="")
    if lang == "ru":
        if kind == "slow":
            return dict(adv=_one(rng, ["медленно ", "плавно ", "неспешно "]), adj="", adj_f="медленная ", adj_n="медленное ")
        return dict(adv="быстро ", adj="", adj_f="быстрая ", adj_n="быстрое ")
    if kind == "slow":
        return dict(adv=_one(rng, ["slowly ", "gently "]), adj="slow ", adj_f="", adj_n="")
    return dict(adv="quickly ", adj="fast ", adj_f="", adj_n="")


def camera_phrase(scene: Scene, rng: np.random.Generator, lang: str) -> str:
    lateral = scene.camera in ("pan_left", "pan_right") and scene.setting in ("beach", "lake")
    r = rng.random()
    if lateral and r < 0.12:
        return _one(rng, _ALONG_RU if lang == "ru" else _ALONG_EN)
    if scene.camera != "static" and r > 0.96:
        return _one(rng, _SMOOTH_RU if lang == "ru" else _SMOOTH_EN)
    table = _CAM_RU if lang == "ru" else _CAM_EN
    return _one(rng, table[scene.camera]).format(**_speed_words(scene.camera_speed, lang, rng)).strip()


def style_phrase(scene: Scene, rng: np.random.Generator, lang: str) -> str:
    key = scene.medium if scene.style == "artistic" else scene.style
    return _one(rng, (_STYLE_RU if lang == "ru" else _STYLE_EN)[key])


def _extras(scene: Scene, lang: str) -> list[Pool]:
    """Details that the picture shows for sure in this scene (lights at night, the moon on water ...)."""
    out: list[Pool] = []
    ru = lang == "ru"
    night, clearish = scene.time_of_day == "night", scene.weather in ("clear", "clouds")
    if scene.setting == "city" and night:
        out.append(["огни", "огни города", "горят фонари", "светятся окна"] if ru else ["lights", "city lights", "street lights", "glowing windows"])
    if scene.setting in ("lake", "beach") and night and clearish:
        out.append(["луна отражается в воде", "лунная дорожка на воде"] if ru else ["the moon reflecting in the water", "moonlight on the water"])
    if scene.setting in ("lake", "beach") and scene.time_of_day in ("sunset", "sunrise") and clearish:
        out.append(["солнце отражается в воде", "солнечная дорожка на воде"] if ru else ["the sun reflecting in the water", "sunlight glittering on the water"])
    if scene.setting == "desert" and scene.time_of_day == "day" and scene.weather == "clear":
        out.append(["жара", "зной", "палящее солнце"] if ru else ["heat", "scorching sun", "a hot day"])
    if scene.setting == "mountains":
        out.append(["снег на вершинах", "снежные вершины"] if ru else ["snowy peaks", "snow on the peaks"])
    if night and scene.weather == "clear" and scene.setting not in ("city", "forest"):
        out.append(["звёздное небо", "звёзды"] if ru else ["starry sky", "stars"])
    return out


def _head_ru(scene: Scene, rng: np.random.Generator, parts: dict[str, bool]) -> str:
    pool = _SET_RU[scene.setting] + _SET_RU_SEASON.get((scene.setting, scene.season), []) * 2
    noun, g = pool[int(rng.integers(len(pool)))]
    gi = _G.index(g)
    t, w = scene.time_of_day, scene.weather
    r = rng.random()
    if t in ("sunset", "sunrise") and scene.setting == "beach" and r < 0.3:
        parts["time"] = True
        return ("Закат" if t == "sunset" else "Рассвет") + " над морем"
    if r < 0.3:
        parts["time"] = True
        adj = _SUNNY_RU[gi] if (t == "day" and w == "clear" and rng.random() < 0.6) else _TIME_ADJ_RU[t][gi]
        return f"{adj} {noun}"
    if r < 0.55:
        parts["time"] = True
        return f"{noun} {_one(rng, _TIME_POST_RU[t])}"
    if r < 0.7 and w in _WEATHER_ADJ_RU:
        parts["weather"] = True
        if rng.random() < 0.6:
            parts["time"] = True
            return f"{_WEATHER_ADJ_RU[w][gi]} {noun} {_one(rng, _TIME_POST_RU[t])}"
        return f"{_WEATHER_ADJ_RU[w][gi]} {noun}"
    if r < 0.78 and season_shows(scene):
        parts["season"] = True
        return f"{noun} {'осенью' if scene.season == 'autumn' else 'зимой'}"
    if r < 0.85:
        parts["time"] = True
        if t == "day" and w == "clear" and rng.random() < 0.6:
            pre = _one(rng, ["Солнечный день", "Ясный день"])
        elif t == "day" and w == "rain" and rng.random() < 0.6:
            pre = "Дождливый день"
        else:
            pre = _one(rng, _TIME_PRE_RU[t])
        return f"{pre}, {noun}"
    return noun  # time said later, or not at all


def _head_en(scene: Scene, rng: np.random.Generator, parts: dict[str, bool]) -> str:
    noun = _one(rng, _SET_EN[scene.setting] + _SET_EN_SEASON.get((scene.setting, scene.season), []) * 2)
    bare = noun[2:] if noun.startswith("a ") else noun[4:] if noun.startswith("the ") else noun
    t, w = scene.time_of_day, scene.weather
    r = rng.random()
    if t in ("sunset", "sunrise") and scene.setting == "beach" and r < 0.3:
        parts["time"] = True
        return ("Sunset" if t == "sunset" else "Sunrise") + " over the " + _one(rng, ["sea", "ocean"])
    if r < 0.3:
        parts["time"] = True
        adj = "sunny" if (t == "day" and w == "clear" and rng.random() < 0.6) else _one(rng, _TIME_ADJ_EN[t])
        return f"{adj} {bare}"
    if r < 0.55:
        parts["time"] = True
        return f"{noun} {_one(rng, _TIME_POST_EN[t])}"
    if r < 0.7 and w in _WEATHER_ADJ_EN:
        parts["weather"] = True
        if rng.random() < 0.6:
            parts["time"] = True
            return f"{_WEATHER_ADJ_EN[w]} {bare} {_one(rng, _TIME_POST_EN[t])}"
        return f"{_WEATHER_ADJ_EN[w]} {bare}"
    if r < 0.78 and season_shows(scene):
        parts["season"] = True
        return f"{noun} in {scene.season}"
    if r < 0.85:
        parts["time"] = True
        if t == "day" and w == "clear" and rng.random() < 0.6:
            pre = _one(rng, ["Sunny day", "Clear day"])
        elif t == "day" and w == "rain" and rng.random() < 0.6:
            pre = "Rainy day"
        else:
            pre = _one(rng, _TIME_PRE_EN[t])
        return f"{pre}, {noun}"
    return noun


def caption(scene: Scene, rng: np.random.Generator, lang: str) -> str:
    """One caption of ``scene`` in ``lang`` ("ru" or "en"); different rng draws give different phrasings."""
    if lang not in ("ru", "en"):
        raise ValueError(f"lang: got {lang!r}; allowed: 'ru' or 'en'")
    ru = lang == "ru"
    t, w = scene.time_of_day, scene.weather
    said = {"time": False, "weather": False, "season": False}
    head = _head_ru(scene, rng, said) if ru else _head_en(scene, rng, said)
    if not said["weather"] and w == "clear" and t == "day" and rng.random() < 0.25:
        head += " под голубым небом" if ru else " under a blue sky"  # "Snowy mountains under a blue sky"
        said["weather"] = True
    middle: list[str] = []
    movers = [m for m in scene.movers if not (m == w)]  # rain/snow are said through the weather
    if not ru and " with " not in head and rng.random() < 0.35:
        # "Night city street with lights and cars" / "Forest at dawn with fog"
        withs = [_WITH_MOVER_EN[m] for m in movers if m in _WITH_MOVER_EN]
        if not said["weather"] and w in _WITH_EN:
            withs.insert(0, _WITH_EN[w])
            said["weather"] = True
        if scene.setting == "city" and t == "night":
            withs.insert(0, "lights")
        if withs:
            k = int(rng.integers(1, min(3, len(withs)) + 1))
            take = [withs[i] for i in sorted(rng.choice(len(withs), k, replace=False))]  # keeps the order
            head += " with " + (take[0] if len(take) == 1 else ", ".join(take[:-1]) + " and " + take[-1])
            movers = [m for m in movers if _WITH_MOVER_EN.get(m) not in take]
    elif ru and " с " not in head and rng.random() < 0.2:
        withs = [m for m in movers if m in _WITH_MOVER_RU]
        if withs:
            m = withs[int(rng.integers(len(withs)))]
            head += " " + _WITH_MOVER_RU[m]
            movers.remove(m)
    if not said["time"] and rng.random() < 0.85:
        middle.append(_one(rng, _TIME_POST_RU[t] if ru else _TIME_POST_EN[t]))
    if not said["weather"]:
        p = 0.35 if w == "clear" else 0.85
        if rng.random() < p:
            pool = (_WEATHER_RU if ru else _WEATHER_EN)[w]
            if w == "clear" and scene.has("clouds"):
                pool = ["ясная погода", "лёгкие облака"] if ru else ["clear weather", "a few light clouds"]
            if w == "clear" and t == "day":
                pool = pool + (["голубое небо"] if ru else ["under a blue sky", "blue sky"])
            middle.append(_one(rng, pool))
    rng.shuffle(movers)
    for m in movers[:3]:
        if rng.random() < (0.5 if m == "clouds" else 0.8):
            pool = (_MOVER_RU if ru else _MOVER_EN)[m]
            if m == "people" and scene.has("rain"):
                pool = ["люди с зонтами", "прохожие с зонтиками"] if ru else ["people with umbrellas", "pedestrians with umbrellas"]
            if m == "birds" and scene.setting == "beach":
                pool = pool + (["чайки"] if ru else ["seagulls"])
            middle.append(_one(rng, pool))
    for pool in _extras(scene, lang):
        if rng.random() < 0.4:
            middle.append(_one(rng, pool))
    if season_shows(scene) and not said["season"] and rng.random() < 0.5:
        pool = (_SEASON_RU if ru else _SEASON_EN)[scene.season]
        if scene.setting in ("mountains", "lake", "field") and scene.season == "autumn":
            pool = pool[:2]  # few leaves to speak of there
        middle.append(_one(rng, pool))
    rng.shuffle(middle)
    tail: list[str] = []
    if rng.random() < 0.8:
        tail.append(camera_phrase(scene, rng, lang))
    if rng.random() < (0.5 if scene.style == "realistic" else 0.88):
        tail.append(style_phrase(scene, rng, lang))
    if len(tail) == 2 and rng.random() < 0.3:
        tail.reverse()
    text = ", ".join([head] + middle + tail)
    return text[0].upper() + text[1:]
