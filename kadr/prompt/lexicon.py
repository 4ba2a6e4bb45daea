"""The vocabulary kadr.prompt understands, in Russian (normal forms) and English (base words).

Russian entries are lemmas as pymorphy3 gives them (tests check each one), so every inflected form
matches: "приближаться" covers "приближается", "приближаясь", "приближающаяся". English entries go
through the same stemmer as the prompt, so "pan" covers "pans", "panning", "panned".

Camera roles (how parse.py reads them):
  anchor        the camera itself: a strong subject for motion verbs ("камера", "объектив", "camera")
  weak_anchor   a shot word ("кадр", "вид", "shot", "view") that licenses motion only as a subject
  specific      a camera term that needs no anchor ("панорама", "наезд", "zoom", "pan", "tilt")
  move          motion without a direction ("двигаться", "плыть", "glide", "follow")
  look          turning the view, meaningful only with a direction ("смотреть", "look")
  up/down/in/out/lateral/tilt/zoom   the direction a verb or noun carries by itself
  left/right/up_adv/down_adv/in_adv/out_adv/side_adv   explicit direction words (strongest)
  from_left/from_right/from_above/from_below            where the motion starts ("слева", "снизу")
  along         sideways prepositions ("вдоль", "мимо", "along", "past")
  toward/away_from   "к"/"towards" and "от": depth, or vertical with a sky/ground target
  particle_in/particle_out   English "in"/"into"/"out" right after zoom/push/dolly/move
  static/static_noun/stay/neg   a still camera, or a negated motion
  slow/fast     speed words; neutral: camera verbs without motion ("снимать", "film")
  split         words that start a new clause with its own subject ("и", "как", "while", "of")
  orbit/truck/pedestal/crane/handheld/roll   a move kadr has no preset for (NO_PRESET_MOVES says how it
                is shown); these words count only inside a camera scope ("кран течёт" is a tap)
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from dataclasses import dataclass

from kadr.prompt.morph import en_stem, fold


def _build(table: dict[str, str], stem: bool) -> Mapping[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for role, words in table.items():
        for word in words.split():
            key = en_stem(word) if stem else fold(word)
            out.setdefault(key, set()).add(role)
    return MappingProxyType({k: frozenset(v) for k, v in out.items()})


# ---------------------------------------------------------------- camera
RU_CAMERA_WORDS: dict[str, str] = {
    "anchor": "камера объектив оператор операторский дрон квадрокоптер съёмка мы стедикам гимбал",
    "weak_anchor": "кадр план ракурс вид взгляд картинка изображение",
    "specific": "панорама панорамирование панорамировать панорамный наезд наезжать наехать отъезд зум зумировать "
                "тилт приближение отдаление облёт трэвеллинг проезд крановый",
    "move": "двигаться двинуться шевелиться пошевелиться перемещаться переместиться плыть проплывать проплыть лететь пролетать пролететь летать "
            "парить скользить ехать проезжать проехать ездить идти проходить пройти следовать последовать следить "
            "сопровождать смещаться сместиться сдвигаться сдвинуться уходить уйти вести качаться покачиваться "
            "трястись дрожать вращаться вращение поворачиваться повернуться поворачивать повернуть разворачиваться "
            "развернуться поворот движение перемещение полёт пролёт проезд двигать перемещать динамичный "
            "динамический облетать огибать кружить кружиться скольжение парение",
    "look": "смотреть посмотреть глядеть взглянуть направлять направить переводить перевести наклоняться "
            "наклониться наклонять наклонить",
    "up": "подниматься подняться приподниматься приподняться поднимать поднять взмывать взмыть взлетать взлететь возноситься вознестись "
          "задирать подъём",
    "down": "опускаться опуститься опускать опустить спускаться спуститься снижаться снизиться спуск",
    "in": "приближаться приблизиться приближать приблизить наезжать наехать подъезжать подъехать подлетать "
          "подлететь подходить подойти надвигаться придвигаться приближение наезд зум зумировать",
    "out": "отдаляться отдалиться отдалять отдалить удаляться удалиться отъезжать отъехать отходить отойти "
           "отлетать отлететь отступать отступить отдаление удаление отъезд расширяться",
    "lateral": "панорама панорамирование панорамировать облетать облёт огибать кружить кружиться",
    "tilt": "тилт наклоняться наклониться наклонять наклонить наклон",
    "left": "влево налево левый",
    "right": "вправо направо правый",
    "from_left": "слева",
    "from_right": "справа",
    "up_adv": "вверх наверх кверху ввысь",
    "down_adv": "вниз книзу",
    "from_above": "сверху",
    "from_below": "снизу",
    "in_adv": "вперёд",
    "out_adv": "назад вдаль прочь",
    "side_adv": "вбок вбок",
    "along": "вдоль мимо параллельно вокруг",
    "toward": "к",
    "away_from": "от",
    "static": "статичный статический неподвижный фиксированный зафиксировать закрепить закреплённый",
    "static_noun": "штатив статика",
    "stay": "стоять замереть застыть оставаться",
    "neg": "не нет без",
    "slow": "медленно медленный неспешно неспешный неторопливо неторопливый плавно плавный мягко мягкий "
            "спокойно спокойный постепенно постепенный слегка лёгкий потихоньку",
    "fast": "быстро быстрый стремительно стремительный резко резкий динамичный динамический энергично "
            "энергичный",
    "neutral": "снимать снять показывать показать запечатлевать фиксировать",
    "split": "и а но как где пока когда что который чтобы словно будто",
    "orbit": "облёт облетать кружить кружиться круговой",
    "orbit_path": "вокруг",
    "truck_path": "боковой",
    "crane": "крановый",
    "crane_path": "кран",
    "handheld": "трясущийся тряска трястись",
    "roll": "крен",
}
EN_CAMERA_WORDS: dict[str, str] = {
    "anchor": "camera cam lens drone cameraman camcorder gimbal steadicam we",
    "weak_anchor": "shot view frame angle footage pov",
    "specific": "pan panning zoom tilt push-in pull-back pull-out zoom-in zoom-out whip-pan dolly-in dolly-out "
                "orbit sweep shaky-cam",
    "move": "move movement motion glide drift track tracking follow fly float travel slide sweep swing roll "
            "shift wander hover sway shake turn rotate dolly crane boom go head ride cruise soar handheld "
            "hand-held steadicam fpv creep dynamic orbit circle truck trucking crab pedestal ped jib arc wobble",
    "look": "look point aim gaze face",
    "up": "rise lift ascend climb raise",
    "down": "lower descend sink drop dip",
    "in": "approach zoom push push-in zoom-in dolly-in",
    "out": "recede retreat widen withdraw pull pull-back pull-out zoom-out dolly-out",
    "lateral": "pan orbit circle truck trucking strafe sweep crab arc",
    "tilt": "tilt",
    "left": "left leftward leftwards",
    "right": "right rightward rightwards",
    "up_adv": "up upward upwards skyward skywards",
    "down_adv": "down downward downwards",
    "in_adv": "forward forwards closer nearer",
    "out_adv": "back backward backwards away farther further",
    "side_adv": "sideways sidewards laterally",
    "along": "along past alongside across around parallel",
    "toward": "toward towards into to",
    "particle_in": "in into",
    "particle_out": "out",
    "static": "static still stationary fixed motionless locked locked-off immobile unmoving steady",
    "static_noun": "tripod",
    "stay": "stay remain hold",
    "neg": "not no never without don't doesn't isn't won't",
    "slow": "slow slowly gentle gently smooth smoothly gradual gradually leisurely calm calmly soft softly",
    "fast": "fast quick quickly rapid rapidly swift swiftly sudden suddenly abrupt abruptly dynamic whip whip-pan "
            "crash",  # "whip pan", "crash zoom": film words for a very fast pan or zoom
    "neutral": "film shoot capture show record frame",
    "split": "and but while as where when which that who whilst whereas of",
    "orbit": "orbit circle arc",
    "truck": "truck trucking crab",
    "pedestal": "pedestal ped",
    "crane": "crane jib boom",
    "handheld": "handheld hand-held shaky wobbly jittery shaky-cam",
    "roll": "roll",
}
RU_CAMERA: Mapping[str, frozenset[str]] = _build(RU_CAMERA_WORDS, stem=False)
EN_CAMERA: Mapping[str, frozenset[str]] = _build(EN_CAMERA_WORDS, stem=True)



@dataclass(frozen=True)
class NoPresetMove:
    """A camera move kadr has no preset for, and how the nearest preset stands in for it.

    The text's own direction words still decide the label ("crane down" is tilt_down); ``default`` is
    the label when they give none, and a label in ``replaces`` gives way to it ("вращается вокруг своей
    оси" reads as sideways, but a roll is no pan). ``mirror``: going round a subject to the right, the
    camera turns left to keep it centred, so the background moves right, as in pan_left.
    """

    default: str
    replaces: frozenset[str]
    mirror: bool = False


# Words that name such a move only when the scope moves ("камера движется вокруг дома" is an orbit,
# "камера показывает людей вокруг костра" is not; "кран" with a motion is a crane, else just a crane).
MOVE_PATH_ROLES: Mapping[str, str] = MappingProxyType({
    "orbit_path": "orbit", "truck_path": "truck", "crane_path": "crane"})
# In order of precedence when a scope names several ("handheld orbit": the orbit).
NO_PRESET_MOVES: Mapping[str, NoPresetMove] = MappingProxyType({
    "roll": NoPresetMove("any_motion", frozenset({"lateral", "any_motion"})),
    "orbit": NoPresetMove("lateral", frozenset({"any_motion"}), mirror=True),
    "crane": NoPresetMove("tilt_up", frozenset({"any_motion"})),
    "pedestal": NoPresetMove("any_motion", frozenset()),
    "truck": NoPresetMove("lateral", frozenset({"any_motion"})),
    "handheld": NoPresetMove("any_motion", frozenset()),
})

# Two words that together name a camera move: the second word gets the roles (lemmas, English stems).
RU_CAMERA_PAIRS: Mapping[tuple[str, str], frozenset[str]] = MappingProxyType({(fold(a), fold(b)): v for (a, b), v in {
    ("свой", "ось"): frozenset({"roll"}),  # "вращается вокруг своей оси": a roll, not an orbit
    ("с", "рука"): frozenset({"handheld"}),  # "съёмка с рук"
    ("ручной", "камера"): frozenset({"handheld", "move"}),  # "ручная камера", not "ручной труд"
    ("ручной", "съёмка"): frozenset({"handheld", "move"}),
    ("по", "круг"): frozenset({"orbit_path"}),  # "облетает по кругу"
    ("с", "кран"): frozenset({"crane"}),  # "съёмка с крана", "камера на кране", "операторский кран"
    ("на", "кран"): frozenset({"crane"}),
    ("операторский", "кран"): frozenset({"crane"}),
}.items()})
EN_CAMERA_PAIRS: Mapping[tuple[str, str], frozenset[str]] = MappingProxyType({
    (en_stem("barrel"), en_stem("roll")): frozenset({"specific", "roll", "move"}),
})

# Surface forms whose lemma would mislead ("ближе" -> "близкий"): matched before lemmas.
RU_CAMERA_FORMS: Mapping[str, frozenset[str]] = MappingProxyType({
    "ближе": frozenset({"in_adv"}),
    "дальше": frozenset({"out_adv"}),
    "выше": frozenset({"up_adv"}),
    "ниже": frozenset({"down_adv"}),
    "зум-аут": frozenset({"specific", "out"}),  # pymorphy3 does not know them; "зум" alone would read as in
    "зум-ин": frozenset({"specific", "in"}),
    "левее": frozenset({"left"}),
    "правее": frozenset({"right"}),
    "снято": frozenset({"neutral"}),
    "снятое": frozenset({"neutral"}),
    "снят": frozenset({"neutral"}),
})

# English words that make "pull/push/dolly" a camera move when they follow it.
EN_PARTICLE_HOSTS: frozenset[str] = frozenset(
    en_stem(w) for w in ("zoom push pull dolly move creep track truck crane boom close pan tilt come sweep crab "
                         "pedestal ped jib orbit arc").split()
)
# English move words that are also things ("a crane", "a truck", "a roll"): camera words only when
# licensed ("crane up", "trucking shot") or next to the camera ("the camera trucks right").
EN_MOVE_NOUNS: frozenset[str] = frozenset(
    en_stem(w) for w in "crane jib boom truck trucking crab pedestal ped arc roll dolly".split())
# Words between a camera verb and its particle: "zoom way out", "pull all the way back".
EN_PARTICLE_SKIP: frozenset[str] = frozenset("way all the".split())
# English verbs that, first in a clause and followed by a direction, speak to the camera ("Move closer",
# "Look left", "Get closer to the door"): an instruction with the camera left unsaid.
EN_IMPERATIVE_HOSTS: frozenset[str] = frozenset(en_stem(w) for w in "get go come move look turn head".split())
# Shot words that make the word before them a camera move ("crane shot", "arc shot", "trucking shot").
EN_SHOT_NOUNS: frozenset[str] = frozenset(en_stem(w) for w in "shot move movement arm".split())
# Deverbal nouns that name something else when a genitive noun follows ("приближение грозы").
# Nouns for where a still camera stands ("с неподвижной точки", "from a fixed position").
RU_STATIC_POSITIONS: frozenset[str] = frozenset(fold(w) for w in "точка позиция положение".split())
EN_STATIC_POSITIONS: frozenset[str] = frozenset(en_stem(w) for w in "position point vantage".split())
RU_GENITIVE_SENSITIVE: frozenset[str] = frozenset(
    fold(w) for w in "приближение отдаление удаление движение поворот подъём спуск наклон полёт проезд".split()
)
# Shot sizes, wide to close: "от общего плана к крупному", "from a wide shot to a close-up" is a move
# closer (zoom_in), the other way round a move back.
RU_FRAMING_SCALE: Mapping[str, int] = MappingProxyType({fold(k): v for k, v in {
    "общий": 0, "дальний": 0, "средний": 1, "крупный": 2, "сверхкрупный": 3, "детальный": 3}.items()})
EN_FRAMING_SCALE: Mapping[str, int] = MappingProxyType({en_stem(k): v for k, v in {
    "wide": 0, "long": 0, "full": 0, "medium": 1, "mid": 1, "close-up": 2, "closeup": 2, "close": 2}.items()})
RU_FRAMING_SOURCE: frozenset[str] = frozenset("с со от из переход".split())
EN_FRAMING_SOURCE: frozenset[str] = frozenset("from".split())

# Targets that turn "к"/"towards" into a vertical move rather than a move closer.
RU_UP_TARGETS: frozenset[str] = frozenset(
    fold(w) for w in "небо облако туча звезда луна солнце вершина крона верх потолок высота".split()
)
RU_DOWN_TARGETS: frozenset[str] = frozenset(fold(w) for w in "земля пол низ дно подножие".split())
RU_OUT_TARGETS: frozenset[str] = frozenset(fold(w) for w in "даль горизонт".split())
EN_UP_TARGETS: frozenset[str] = frozenset(
    en_stem(w) for w in "sky heavens star cloud treetop canopy top ceiling moon sun summit".split()
)
EN_DOWN_TARGETS: frozenset[str] = frozenset(en_stem(w) for w in "ground floor earth bottom feet foot".split())
EN_OUT_TARGETS: frozenset[str] = frozenset(en_stem(w) for w in "distance horizon".split())
RU_PREPOSITIONS_OF_PLACE: frozenset[str] = frozenset(
    fold(w) for w in "в во на у возле около над под среди посреди вдоль за перед между рядом внутри".split()
)
EN_DETERMINERS: frozenset[str] = frozenset(
    "a an the this that these those some my our your his her its their one two three".split()
)
EN_PREPOSITIONS: frozenset[str] = frozenset(
    "in on at by near over under inside across along among through beside behind above below into onto "
    "from to toward towards with without around past between off".split()
)
EN_SKIP_BEFORE_ANCHOR: frozenset[str] = frozenset(
    "the a an this that our my your his her their its".split()
)

# ---------------------------------------------------------------- style
# key -> (style, style_detail)
RU_STYLE: Mapping[str, tuple[str, str | None]] = MappingProxyType({fold(k): v for k, v in {
    "реалистичный": ("realistic", None), "реалистический": ("realistic", None), "реализм": ("realistic", None),
    "реалистично": ("realistic", None), "фотореалистичный": ("realistic", "photo"),
    "фотореализм": ("realistic", "photo"), "фотореалистический": ("realistic", "photo"),
    "гиперреалистичный": ("realistic", "photo"), "фотографический": ("realistic", "photo"),
    "документальный": ("realistic", "documentary"),
    "кинематографичный": ("cinematic", None), "кинематографический": ("cinematic", None),
    "кинематографично": ("cinematic", None), "кинематограф": ("cinematic", None), "кино": ("cinematic", None),
    "киношный": ("cinematic", None), "фильм": ("cinematic", None), "голливудский": ("cinematic", None),
    "блокбастер": ("cinematic", None),
    "анимация": ("animation", None), "анимационный": ("animation", None), "анимированный": ("animation", None),
    "мультфильм": ("animation", "cartoon"), "мультик": ("animation", "cartoon"),
    "мультяшный": ("animation", "cartoon"), "мультипликация": ("animation", "cartoon"),
    "мультипликационный": ("animation", "cartoon"), "рисованный": ("animation", "cartoon"),
    "аниме": ("animation", "anime"), "гибли": ("animation", "anime"), "манга": ("animation", "anime"),
    "пиксар": ("animation", "3d"), "3d-анимация": ("animation", "3d"), "дисней": ("animation", "cartoon"),
    "пластилиновый": ("animation", "claymation"),
    "художественный": ("artistic", None), "арт": ("artistic", None), "живопись": ("artistic", "painting"),
    "картина": ("artistic", "painting"), "импрессионизм": ("artistic", "painting"),
    "импрессионистский": ("artistic", "painting"), "гуашь": ("artistic", "painting"),
    "пастель": ("artistic", "painting"), "акварель": ("artistic", "watercolor"),
    "акварельный": ("artistic", "watercolor"), "масляный": ("artistic", "oil"),
    "карандаш": ("artistic", "pencil"), "карандашный": ("artistic", "pencil"), "набросок": ("artistic", "pencil"),
    "эскиз": ("artistic", "pencil"), "скетч": ("artistic", "pencil"), "рисунок": ("artistic", "pencil"),
    "графика": ("artistic", "pencil"),
}.items()})
EN_STYLE: Mapping[str, tuple[str, str | None]] = MappingProxyType({en_stem(k): v for k, v in {
    "realistic": ("realistic", None), "realism": ("realistic", None), "lifelike": ("realistic", None),
    "photorealistic": ("realistic", "photo"), "photo-realistic": ("realistic", "photo"),
    "hyperrealistic": ("realistic", "photo"), "hyper-realistic": ("realistic", "photo"),
    "photographic": ("realistic", "photo"), "documentary": ("realistic", "documentary"),
    "cinematic": ("cinematic", None), "filmic": ("cinematic", None), "movie": ("cinematic", None),
    "film": ("cinematic", None), "hollywood": ("cinematic", None), "blockbuster": ("cinematic", None),
    "animation": ("animation", None), "animated": ("animation", None), "cartoon": ("animation", "cartoon"),
    "cartoonish": ("animation", "cartoon"), "toon": ("animation", "cartoon"), "anime": ("animation", "anime"),
    "ghibli": ("animation", "anime"), "manga": ("animation", "anime"), "pixar": ("animation", "3d"),
    "3d-animation": ("animation", "3d"), "disney": ("animation", "cartoon"), "claymation": ("animation", "claymation"),
    "stop-motion": ("animation", "claymation"),
    "artistic": ("artistic", None), "painterly": ("artistic", "painting"), "painting": ("artistic", "painting"),
    "painted": ("artistic", "painting"), "impressionist": ("artistic", "painting"),
    "impressionism": ("artistic", "painting"), "impressionistic": ("artistic", "painting"),
    "gouache": ("artistic", "painting"), "pastel": ("artistic", "painting"),
    "watercolor": ("artistic", "watercolor"), "watercolour": ("artistic", "watercolor"),
    "oils": ("artistic", "oil"), "pencil": ("artistic", "pencil"), "sketch": ("artistic", "pencil"),
    "charcoal": ("artistic", "pencil"), "drawing": ("artistic", "pencil"), "drawn": ("artistic", "pencil"),
}.items()})
# Words that are style only next to a painting word ("масло" is also butter, "oil" also fuel).
RU_STYLE_CONTEXT: Mapping[str, tuple[str, str | None]] = MappingProxyType({"масло": ("artistic", "oil")})
EN_STYLE_CONTEXT: Mapping[str, tuple[str, str | None]] = MappingProxyType({en_stem("oil"): ("artistic", "oil")})
RU_STYLE_FRAME: frozenset[str] = frozenset(fold(w) for w in "стиль живопись картина холст манера".split())
EN_STYLE_FRAME: frozenset[str] = frozenset(en_stem(w) for w in "style painting canvas art look aesthetic".split())
# Nouns the style words lean on: removed with them from the scene text ("в стиле аниме", "watercolor style").
RU_STYLE_NOUNS: frozenset[str] = frozenset(fold(w) for w in "стиль манера жанр эстетика".split())
EN_STYLE_NOUNS: frozenset[str] = frozenset(en_stem(w) for w in "style aesthetic look genre".split())

# ---------------------------------------------------------------- time, weather, setting
# key -> (value, strength): strength 2 names the time, 1 only suggests it ("солнечный", "луна").
RU_TIME: Mapping[str, tuple[str, int]] = MappingProxyType({fold(k): v for k, v in {
    "рассвет": ("sunrise", 2), "восход": ("sunrise", 2), "утро": ("sunrise", 2), "утренний": ("sunrise", 2),
    "утром": ("sunrise", 2), "заря": ("sunrise", 2), "рассветный": ("sunrise", 2), "предрассветный": ("sunrise", 2),
    "день": ("day", 2), "днём": ("day", 2), "дневной": ("day", 2), "полдень": ("day", 2), "полуденный": ("day", 2),
    "солнечный": ("day", 1), "солнце": ("day", 1), "ясный": ("day", 1), "голубой": ("day", 1),
    "закат": ("sunset", 2), "закатный": ("sunset", 2), "вечер": ("sunset", 2), "вечерний": ("sunset", 2),
    "вечером": ("sunset", 2), "сумерки": ("sunset", 2), "сумеречный": ("sunset", 2),
    "ночь": ("night", 2), "ночной": ("night", 2), "ночью": ("night", 2), "полночь": ("night", 2),
    "луна": ("night", 1), "лунный": ("night", 1), "звезда": ("night", 1), "звёздный": ("night", 1),
}.items()})
EN_TIME: Mapping[str, tuple[str, int]] = MappingProxyType({en_stem(k): v for k, v in {
    "dawn": ("sunrise", 2), "sunrise": ("sunrise", 2), "morning": ("sunrise", 2), "daybreak": ("sunrise", 2),
    "day": ("day", 2), "daytime": ("day", 2), "daylight": ("day", 2), "noon": ("day", 2), "midday": ("day", 2),
    "afternoon": ("day", 2), "sunny": ("day", 1), "sunlit": ("day", 1), "sun": ("day", 1), "blue": ("day", 1),
    "sunset": ("sunset", 2), "dusk": ("sunset", 2), "evening": ("sunset", 2), "twilight": ("sunset", 2),
    "sundown": ("sunset", 2), "night": ("night", 2), "nighttime": ("night", 2), "midnight": ("night", 2),
    "moonlight": ("night", 2), "moonlit": ("night", 2), "moon": ("night", 1), "starry": ("night", 1),
    "star": ("night", 1),
}.items()})
RU_WEATHER: Mapping[str, str] = MappingProxyType({fold(k): v for k, v in {
    "ясный": "clear", "ясно": "clear", "солнечный": "clear", "безоблачный": "clear", "солнце": "clear",
    "облако": "clouds", "облачный": "clouds", "облачно": "clouds", "пасмурный": "clouds", "пасмурно": "clouds",
    "туча": "clouds", "хмурый": "clouds",
    "дождь": "rain", "дождливый": "rain", "ливень": "rain", "морось": "rain", "гроза": "rain", "дождик": "rain",
    "снег": "snow", "снежный": "snow", "снегопад": "snow", "метель": "snow", "вьюга": "snow", "заснеженный": "snow",
    "снежинка": "snow", "пурга": "snow",
    "туман": "fog", "туманный": "fog", "дымка": "fog", "мгла": "fog", "зонт": "rain", "зонтик": "rain",
}.items()})
# Things that hint at the weather but are subjects too ("люди с зонтами", "people with umbrellas").
WEATHER_OBJECTS: frozenset[str] = frozenset({"зонт", "зонтик", en_stem("umbrella")})
EN_WEATHER: Mapping[str, str] = MappingProxyType({en_stem(k): v for k, v in {
    "clear": "clear", "sunny": "clear", "cloudless": "clear", "sunshine": "clear", "sun": "clear",
    "cloud": "clouds", "cloudy": "clouds", "overcast": "clouds", "grey": "clouds",
    "rain": "rain", "rainy": "rain", "raining": "rain", "drizzle": "rain", "downpour": "rain",
    "thunderstorm": "rain", "storm": "rain", "umbrella": "rain",
    "snow": "snow", "snowy": "snow", "snowfall": "snow", "blizzard": "snow", "snowflake": "snow",
    "fog": "fog", "foggy": "fog", "mist": "fog", "misty": "fog", "haze": "fog", "hazy": "fog",
}.items()})
# key -> (setting, strength): 2 names the place, 1 only suggests it ("волны", "берег").
RU_SETTING: Mapping[str, tuple[str, int]] = MappingProxyType({fold(k): v for k, v in {
    "парк": ("park", 2), "сквер": ("park", 2), "сад": ("park", 1), "аллея": ("park", 1),
    "пляж": ("beach", 2), "море": ("beach", 2), "морской": ("beach", 2), "океан": ("beach", 2),
    "побережье": ("beach", 2), "прибой": ("beach", 2), "берег": ("beach", 1), "волна": ("beach", 1),
    "чайка": ("beach", 1), "песок": ("beach", 1),
    "город": ("city", 2), "городской": ("city", 2), "улица": ("city", 2), "мегаполис": ("city", 2),
    "проспект": ("city", 2), "площадь": ("city", 1), "небоскрёб": ("city", 2), "переулок": ("city", 2),
    "набережная": ("city", 1), "квартал": ("city", 2), "машина": ("city", 1), "фонарь": ("city", 1),
    "гора": ("mountains", 2), "горный": ("mountains", 2), "вершина": ("mountains", 1), "хребет": ("mountains", 2),
    "ущелие": ("mountains", 2), "скала": ("mountains", 1), "альпы": ("mountains", 2),
    "лес": ("forest", 2), "лесной": ("forest", 2), "чаща": ("forest", 2), "роща": ("forest", 2),
    "тайга": ("forest", 2), "бор": ("forest", 2), "джунгли": ("forest", 2),
    "поле": ("field", 2), "луг": ("field", 2), "степь": ("field", 2), "пшеница": ("field", 1),
    "полевой": ("field", 2), "луговой": ("field", 2),
    "пустыня": ("desert", 2), "дюна": ("desert", 2), "бархан": ("desert", 2), "пустынный": ("desert", 1),
    "оазис": ("desert", 1),
    "озеро": ("lake", 2), "пруд": ("lake", 2), "озёрный": ("lake", 2),
}.items()})
EN_SETTING: Mapping[str, tuple[str, int]] = MappingProxyType({en_stem(k): v for k, v in {
    "park": ("park", 2), "garden": ("park", 1),
    "beach": ("beach", 2), "sea": ("beach", 2), "seaside": ("beach", 2), "ocean": ("beach", 2),
    "coast": ("beach", 2), "shore": ("beach", 1), "shoreline": ("beach", 1), "surf": ("beach", 2),
    "wave": ("beach", 1), "seagull": ("beach", 1),
    "city": ("city", 2), "street": ("city", 2), "town": ("city", 2), "downtown": ("city", 2),
    "urban": ("city", 2), "skyline": ("city", 2), "skyscraper": ("city", 2), "avenue": ("city", 2),
    "alley": ("city", 2), "square": ("city", 1), "car": ("city", 1),
    "mountain": ("mountains", 2), "mountains": ("mountains", 2), "peak": ("mountains", 1),
    "ridge": ("mountains", 2), "alps": ("mountains", 2), "canyon": ("mountains", 2), "cliff": ("mountains", 1),
    "forest": ("forest", 2), "woods": ("forest", 2), "woodland": ("forest", 2), "jungle": ("forest", 2),
    "grove": ("forest", 2), "taiga": ("forest", 2),
    "field": ("field", 2), "meadow": ("field", 2), "prairie": ("field", 2), "grassland": ("field", 2),
    "steppe": ("field", 2), "wheat": ("field", 1),
    "desert": ("desert", 2), "dune": ("desert", 2), "oasis": ("desert", 1),
    "lake": ("lake", 2), "pond": ("lake", 2),
}.items()})
# Light and season words: they count as "light or time" in the advice, not as a time of day.
RU_LIGHT: frozenset[str] = frozenset(fold(w) for w in (
    "свет освещение луч тень огонь неон неоновый фонарь сияние блик зарево отблеск золотой осень осенний "
    "зима зимний весна весенний лето летний жара зной мороз гроза радуга").split())
EN_LIGHT: frozenset[str] = frozenset(en_stem(w) for w in (
    "light lighting ray shadow neon lamp glow glowing gleam golden autumn fall winter spring summer heat "
    "frost sunbeam rainbow candlelight").split())

# ---------------------------------------------------------------- format hints
RU_VERTICAL: frozenset[str] = frozenset(fold(w) for w in "сторис рилс шортс тикток вертикальный".split())
EN_VERTICAL: frozenset[str] = frozenset(en_stem(w) for w in "reels reel tiktok vertical".split())
RU_SQUARE: frozenset[str] = frozenset(fold(w) for w in "квадратный".split())
EN_SQUARE: frozenset[str] = frozenset(en_stem(w) for w in "square".split())
RU_WIDE: frozenset[str] = frozenset(fold(w) for w in "горизонтальный широкоформатный ютуб".split())
EN_WIDE: frozenset[str] = frozenset(en_stem(w) for w in "horizontal widescreen youtube".split())
# Words that need a format word nearby to be a format hint ("square" is also a town square).
EN_FORMAT_CONTEXT_ONLY: frozenset[str] = frozenset(en_stem(w) for w in "square vertical horizontal".split())
RU_FORMAT_NOUNS: frozenset[str] = frozenset(fold(w) for w in "видео ролик формат клип кадр ориентация видеоролик".split())
EN_FORMAT_NOUNS: frozenset[str] = frozenset(
    en_stem(w) for w in "video clip format mode orientation aspect frame story stories reel short".split()
)
EN_STORY_PLATFORMS: frozenset[str] = frozenset(en_stem(w) for w in "instagram insta story stories shorts".split())
RU_FORMAT_GLUE: frozenset[str] = frozenset(fold(w) for w in "для в формат видео ролик клип инстаграм инста ютуб".split())
EN_FORMAT_GLUE: frozenset[str] = frozenset(
    en_stem(w) for w in "for in a an my the format video clip instagram insta youtube mode orientation".split()
)
RU_SECONDS: frozenset[str] = frozenset(fold(w) for w in "секунда сек секундный с".split())
RU_MINUTES: frozenset[str] = frozenset(fold(w) for w in "минута мин минутный".split())
EN_SECONDS: frozenset[str] = frozenset(w for w in "second seconds sec secs s".split())
EN_MINUTES: frozenset[str] = frozenset(w for w in "minute minutes min mins".split())
RU_NUMERALS: Mapping[str, int] = MappingProxyType({fold(k): v for k, v in {
    "один": 1, "одна": 1, "два": 2, "две": 2, "три": 3, "четыре": 4, "пять": 5, "шесть": 6, "семь": 7,
    "восемь": 8, "девять": 9, "десять": 10, "двенадцать": 12, "пятнадцать": 15, "двадцать": 20,
    "тридцать": 30, "пару": 2,
}.items()})
EN_NUMERALS: Mapping[str, int] = MappingProxyType({
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30,
})

# ---------------------------------------------------------------- advice
# Words that say nothing a model can draw: they earn no points and get their own suggestion.
RU_GENERIC: frozenset[str] = frozenset(fold(w) for w in (
    "красивый красиво крутой круто классный классно интересный интересно эпичный эпично потрясающий "
    "удивительный необычный клёвый прикольный офигенный шикарный великолепный замечательный хороший "
    "прекрасный невероятный что-нибудь что-то нечто какой-нибудь").split())
EN_GENERIC: frozenset[str] = frozenset(en_stem(w) for w in (
    "beautiful cool awesome amazing nice epic interesting good great stunning unusual incredible gorgeous "
    "wonderful fantastic pretty something anything stuff").split())
# Nouns that are no subject: the medium, the request, abstractions of a topic.
RU_NOT_SUBJECT: frozenset[str] = frozenset(fold(w) for w in (
    "видео ролик клип видеоролик сцена картинка кадр вещь природа пейзаж тема стиль формат секунда минута "
    "съёмка камера план ракурс вид фон небо воздух качество разрешение сторис рилс шортс тикток ютуб инстаграм "
    "что-нибудь что-то нечто жанр атмосфера настроение эстетика").split())
EN_NOT_SUBJECT: frozenset[str] = frozenset(en_stem(w) for w in (
    "video clip scene picture shot thing stuff nature landscape topic style format second minute footage "
    "camera view angle background sky air quality resolution reels reel tiktok youtube instagram something anything "
    "atmosphere mood aesthetic look it way").split())
RU_NOT_ACTION: frozenset[str] = frozenset(fold(w) for w in (
    "быть являться хотеть сделать делать создать создавать снять снимать сгенерировать генерировать "
    "показать показывать нарисовать мочь нужно надо видеть увидеть выглядеть стать становиться иметь "
    "получиться").split())
EN_NOT_ACTION: frozenset[str] = frozenset(en_stem(w) for w in (
    "be have make do create generate show want need look get can will would should let film shoot render "
    "seem become give").split())
EN_ACTION_VERBS: frozenset[str] = frozenset(en_stem(w) for w in (
    "walk run fly move flow fall drift float sway blow drive swim dance play rise set shine reflect ripple "
    "crash roll spin jump sit sleep stand read eat drink ride sail burn flicker glow melt grow bloom flutter "
    "wave splash pour drip chase hunt graze climb smile laugh talk kiss hug cry sing wander stroll hurry "
    "rush race gallop soar glide circle land break stream sparkle twinkle dart leap crawl bounce swirl "
    "chirp bark rustle fish cook paint write stretch lie wait kneel pass cross hover").split())
EN_ING_NOT_ACTION: frozenset[str] = frozenset(
    "morning evening building ceiling painting drawing lighting clothing spring string thing something "
    "anything nothing everything king ring wing swing wedding sibling pudding ping darling ending beginning "
    "setting ceiling during bring sing tracking panning zooming tilting".split()
)
RU_ACTION_NOUNS: frozenset[str] = frozenset(fold(w) for w in (
    "движение полёт бег танец прыжок игра прогулка гонка падение течение волнение плавание катание").split())
EN_ACTION_NOUNS: frozenset[str] = frozenset(en_stem(w) for w in "motion race dance flight jump game walk".split())
RU_FUNCTION: frozenset[str] = frozenset(fold(w) for w in (
    "и а но или в во на у к ко с со от до по за из изо над под о об обо про при для без через сквозь "
    "вдоль мимо около возле среди между перед после как где когда пока что чтобы который это этот тот "
    "весь очень просто же ли бы уже ещё тоже также лишь только вот там тут здесь затем потом сначала "
    "их его её свой мой наш").split())
EN_FUNCTION: frozenset[str] = frozenset((
    "a an the and or but of in on at by to for with without from into onto over under near across along "
    "among through behind above below around past between as while when where which that who this these "
    "those it its is are be was were been very just also then there here some my our your his her their "
    "then first slowly all").split())
# Request words at the start of a prompt ("Сделай ...", "Make ..."): not part of the scene.
RU_REQUEST: frozenset[str] = frozenset(fold(w) for w in (
    "сделать создать сгенерировать нарисовать показать хотеть снять пожалуйста нужный нужно").split())
EN_REQUEST: frozenset[str] = frozenset("make create generate render show want please i me need".split())
