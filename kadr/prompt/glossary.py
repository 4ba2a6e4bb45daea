"""Russian scene words in English, for the English-only models (LTX-Video, CogVideoX).

No translation model can be downloaded where kadr runs offline, so the scene vocabulary people
use in video prompts is translated word by word from lemmas: nouns keep their number ("машины" ->
"cars"), verbs become "-ing" forms ("люди гуляют" -> "people walking"), prepositions follow the case
of their noun ("в лес" -> "into", "в лесу" -> "in"). The result is plain and telegraphic, which is
how prompts for these models are written anyway. Words outside the glossary are reported, not
guessed; kadr.prompt.rewrite plugs in a language model where one is available.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Mapping

from kadr.prompt.morph import Token, fold, tokenize

# lemma: english [| plural]. Nouns.
_NOUNS = """
день: day | days; ночь: night | nights; утро: morning; вечер: evening; рассвет: dawn; закат: sunset;
восход: sunrise; полдень: noon; полночь: midnight; сумерки: twilight | twilight; заря: dawn;
солнце: sun; луна: moon; звезда: star; небо: sky | skies; облако: cloud; туча: storm cloud;
дождь: rain; снег: snow; туман: fog; ветер: wind; гроза: thunderstorm; молния: lightning;
радуга: rainbow; шторм: storm; буря: storm; метель: blizzard; снегопад: snowfall; иней: frost;
лёд: ice; роса: dew; капля: drop; свет: light | lights; тень: shadow; луч: ray; отражение: reflection;
огонь: fire | lights; пламя: flame; дым: smoke; пар: steam; жара: heat; мороз: frost; дымка: haze;
парк: park; пляж: beach; море: sea | seas; океан: ocean; берег: shore | shores; побережье: coast;
волна: wave; песок: sand; прибой: surf; залив: bay; остров: island; город: city | cities;
улица: street; дорога: road; шоссе: highway; мост: bridge; площадь: square; дом: house;
здание: building; небоскрёб: skyscraper; окно: window; крыша: roof; башня: tower; замок: castle;
церковь: church | churches; храм: temple; маяк: lighthouse; порт: port; гавань: harbour;
набережная: embankment; рынок: market; кафе: café; ресторан: restaurant; магазин: shop;
витрина: shop window; фонарь: street lamp; светофор: traffic light; мегаполис: metropolis;
деревня: village; село: village; двор: yard; переулок: alley; квартал: block; стена: wall;
машина: car; автомобиль: car; автобус: bus | buses; трамвай: tram; поезд: train; метро: metro;
велосипед: bicycle; велосипедист: cyclist; мотоцикл: motorcycle; лодка: boat; корабль: ship;
яхта: yacht; самолёт: plane; вертолёт: helicopter; воздушный: air;
гора: mountain; вершина: peak; холм: hill; скала: cliff; камень: stone | stones; ущелье: gorge; ущелие: gorge;
долина: valley; пещера: cave; вулкан: volcano; ледник: glacier; водопад: waterfall; река: river;
ручей: stream; озеро: lake; пруд: pond; болото: swamp; вода: water; лес: forest; роща: grove;
джунгли: jungle | jungle; тайга: taiga; дерево: tree; сосна: pine; ель: spruce; ёлка: fir tree;
берёза: birch; дуб: oak; клён: maple; пальма: palm tree; ветка: branch | branches; лист: leaf | leaves;
листва: foliage; трава: grass; цветок: flower; роза: rose; тюльпан: tulip; подсолнух: sunflower;
лаванда: lavender; поле: field; луг: meadow; степь: steppe; пшеница: wheat; пустыня: desert;
дюна: dune; бархан: dune; кактус: cactus | cacti; оазис: oasis; сад: garden; тропинка: path;
тропа: trail; аллея: alley; фонтан: fountain; скамейка: bench | benches; горизонт: horizon;
человек: person | people; люди: people | people; мужчина: man | men; женщина: woman | women;
девушка: girl; парень: guy; ребёнок: child | children; девочка: girl; мальчик: boy; старик: old man | old men;
старушка: old woman | old women; бабушка: grandmother; дедушка: grandfather; пара: couple;
семья: family | families; толпа: crowd; турист: tourist; рыбак: fisherman | fishermen; танцор: dancer;
музыкант: musician; художник: painter; герой: hero | heroes; героиня: heroine; солдат: soldier;
рыцарь: knight; принцесса: princess | princesses; космонавт: astronaut; робот: robot;
кот: cat; кошка: cat; котёнок: kitten; собака: dog; щенок: puppy | puppies; лошадь: horse;
конь: horse; корова: cow; олень: deer | deer; медведь: bear; волк: wolf | wolves; лиса: fox | foxes;
заяц: hare; белка: squirrel; птица: bird; чайка: seagull; голубь: pigeon; орёл: eagle; утка: duck;
лебедь: swan; бабочка: butterfly | butterflies; пчела: bee; рыба: fish | fish; дельфин: dolphin;
кит: whale; черепаха: turtle; дракон: dragon; единорог: unicorn; гнездо: nest;
книга: book; чашка: cup; кофе: coffee; чай: tea; свеча: candle; костёр: campfire; лампа: lamp;
часы: clock | clocks; дверь: door; стол: table; стул: chair; зонт: umbrella; зонтик: umbrella;
шляпа: hat; платье: dress | dresses; пальто: coat; волосы: hair | hair; лицо: face; глаз: eye;
рука: hand; улыбка: smile; подоконник: windowsill; комната: room; кухня: kitchen; космос: space;
планета: planet; галактика: galaxy | galaxies; асфальт: asphalt; лужа: puddle; след: footprint;
ствол: trunk; крона: treetop; фасад: facade; колокольня: bell tower; виноградник: vineyard;
секвойя: sequoia; льдина: ice floe; брызги: spray | spray; темнота: darkness; тишина: silence;
футбол: football; мяч: ball; гитара: guitar; пианино: piano; музыка: music; праздник: festival;
фестиваль: festival; гонка: race; танец: dance; игра: game; прогулка: walk; полёт: flight;
движение: movement; осень: autumn; зима: winter; весна: spring; лето: summer; час: hour;
пик: peak; воздух: air; камера: camera; съёмка: footage; кадр: shot; вид: view; видео: video; ролик: clip; сцена: scene; пейзаж: landscape; природа: nature; земля: ground; пол: floor; потолок: ceiling; даль: distance;
"""
# Adjectives and participle-like words (an English word that stands before the noun).
_ADJECTIVES = """
красный: red; оранжевый: orange; жёлтый: yellow; зелёный: green; голубой: light blue; синий: blue;
фиолетовый: purple; розовый: pink; белый: white; чёрный: black; серый: grey; золотой: golden;
золотистый: golden; серебряный: silver; коричневый: brown; рыжий: ginger; яркий: bright; тёмный: dark;
светлый: light; тусклый: dim; большой: big; маленький: small; высокий: tall; низкий: low; старый: old;
новый: new; древний: ancient; огромный: huge; крошечный: tiny; длинный: long; узкий: narrow;
широкий: wide; пустой: empty; оживлённый: busy; тихий: quiet; спокойный: calm; бурный: stormy;
тёплый: warm; холодный: cold; мокрый: wet; сухой: dry; заснеженный: snow-covered; снежный: snowy;
туманный: foggy; дождливый: rainy; облачный: cloudy; пасмурный: overcast; ясный: clear;
солнечный: sunny; осенний: autumn; весенний: spring; летний: summer; зимний: winter; утренний: morning;
вечерний: evening; дневной: daytime; ночной: night; лесной: forest; горный: mountain; морской: sea;
городской: city; деревенский: village; сельский: rural; уютный: cosy; мягкий: soft; лёгкий: light;
естественный: natural; густой: dense; цветущий: blooming; неоновый: neon; бескрайний: endless;
далёкий: distant; близкий: close; красивый: beautiful; живописный: scenic; величественный: majestic;
тропический: tropical; песчаный: sandy; каменный: stone; деревянный: wooden; скалистый: rocky;
заброшенный: abandoned; пустынный: deserted; одинокий: lonely; звёздный: starry; лунный: moonlit;
закатный: sunset; рассветный: dawn; пшеничный: wheat; полевой: field; уличный: street; весь: whole;
мирный: peaceful; волшебный: magical; сказочный: fairy-tale; фантастический: fantastic; ржавый: rusty;
блестящий: shiny; прозрачный: clear; глубокий: deep; мелкий: small; пушистый: fluffy; милый: cute;
счастливый: happy; грустный: sad; последний: last; первый: first; жаркий: hot; влажный: humid;
горящий: burning; спящий: sleeping; бегущий: running; летящий: flying; падающий: falling;
стеклянный: glass; кирпичный: brick; лавандовый: lavender; маленький: small; весёлый: cheerful;
"""
# Verbs, as the English -ing form (present participle reads well in prompts: "people walking").
_VERBS = """
гулять: walking; идти: walking; ходить: walking; бежать: running; бегать: running; ехать: driving;
ездить: driving; проезжать: driving past; лететь: flying; летать: flying; пролетать: flying past;
плыть: floating; плавать: swimming; падать: falling; кружиться: swirling; кружить: circling;
танцевать: dancing; петь: singing; играть: playing; сидеть: sitting; стоять: standing; лежать: lying;
спать: sleeping; читать: reading; пить: drinking; светить: shining; сиять: shining; гореть: burning;
мерцать: flickering; сверкать: sparkling; блестеть: glistening; отражаться: reflecting; отражать: reflecting;
разбиваться: crashing; накатывать: rolling in; качаться: swaying; покачиваться: swaying;
колыхаться: swaying; шелестеть: rustling; дуть: blowing; течь: flowing; струиться: streaming;
журчать: babbling; расти: growing; цвести: blooming; таять: melting; подниматься: rising;
опускаться: descending; всходить: rising; садиться: setting; заходить: setting; приближаться: approaching;
удаляться: receding; смотреть: looking; улыбаться: smiling; прыгать: jumping; взлетать: taking off;
кататься: riding; ловить: catching; рисовать: drawing; работать: working; смеяться: laughing;
обниматься: hugging; целоваться: kissing; разговаривать: talking; ждать: waiting; спешить: hurrying;
проходить: passing; двигаться: moving; вращаться: rotating; дымиться: steaming; пениться: foaming;
рассеиваться: clearing; пробиваться: breaking through; освещать: lighting up; окутывать: shrouding;
покрывать: covering; нестись: rushing; мчаться: racing; ползти: crawling; пастись: grazing;
стучать: drumming; греться: basking; виться: winding; развеваться: fluttering; порхать: fluttering;
шуметь: murmuring; бродить: wandering; готовить: cooking; писать: writing; держать: holding;
отплывать: sailing away; плескаться: splashing; сидящий: sitting; гаснуть: fading; зажигаться: lighting up;
"""
# Everything else: adverbs, prepositions (by the case of their noun), pronouns, numerals.
_OTHER = """
и: and; или: or; а: and; но: but; как: as; где: where; когда: when; пока: while; очень: very;
медленно: slowly; быстро: quickly; плавно: smoothly; тихо: quietly; ярко: brightly; высоко: high;
далеко: far away; вдали: in the distance; вокруг: around; наверху: above; внизу: below; рядом: nearby;
утром: in the morning; днём: during the day; вечером: in the evening; ночью: at night; зимой: in winter;
летом: in summer; осенью: in autumn; весной: in spring; много: many; несколько: several; немного: a little;
один: one; два: two; три: three; четыре: four; пять: five; он: he; она: she; они: they; мы: we;
его: his; её: her; их: their; весь: whole; всё: everything; это: this; там: there; сквозь: through;
через: across; вдоль: along; мимо: past; среди: among; между: between; около: near; возле: near;
перед: in front of; после: after; без: without; для: for; про: about; над: over; под: under;
у: by; к: towards; от: from; из: from; до: to; при: at; внутри: inside; навстречу: towards;
вверх: up; вниз: down; влево: left; вправо: right; вдаль: into the distance; прочь: away;
слегка: slightly; постепенно: gradually; вместе: together; тоже: also; уже: already; снова: again;
"""
# Prepositions whose English depends on the case of their noun.
_CASE_PREPS: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "в": MappingProxyType({"accs": "into", "default": "in"}),
    "во": MappingProxyType({"accs": "into", "default": "in"}),
    "на": MappingProxyType({"accs": "onto", "default": "on"}),
    "с": MappingProxyType({"gent": "from", "default": "with"}),
    "со": MappingProxyType({"gent": "from", "default": "with"}),
    "за": MappingProxyType({"accs": "behind", "default": "behind"}),
    "по": MappingProxyType({"default": "along"}),
    "о": MappingProxyType({"accs": "against", "default": "about"}),
    "об": MappingProxyType({"accs": "against", "default": "about"}),
})
_DROP = frozenset(fold(w) for w in "же ли бы вот ведь даже просто который которая это быть являться свой себя".split())


def _parse_table(text: str) -> dict[str, tuple[str, str | None]]:
    out: dict[str, tuple[str, str | None]] = {}
    for entry in text.replace("\n", " ").split(";"):
        entry = entry.strip()
        if not entry:
            continue
        word, _, english = entry.partition(":")
        singular, _, plural = english.partition("|")
        out[fold(word.strip())] = (singular.strip(), plural.strip() or None)
    return out


@lru_cache(maxsize=1)
def glossary() -> Mapping[str, Mapping[str, tuple[str, str | None]]]:
    """The glossary by part: "noun", "adj", "verb", "other" -> {folded lemma: (english, plural)}."""
    return MappingProxyType({
        "noun": MappingProxyType(_parse_table(_NOUNS)),
        "adj": MappingProxyType(_parse_table(_ADJECTIVES)),
        "verb": MappingProxyType(_parse_table(_VERBS)),
        "other": MappingProxyType(_parse_table(_OTHER)),
    })


@lru_cache(maxsize=1)
def english_nouns() -> frozenset[str]:
    """Stems of the English nouns kadr knows: with them English subjects are found without a tagger."""
    from kadr.prompt.morph import en_stem

    words: set[str] = set()
    for singular, plural in glossary()["noun"].values():
        for w in (singular, plural):
            if w and " " not in w:
                words.add(en_stem(w))
    return frozenset(words)


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


@dataclass(frozen=True)
class Translation:
    text: str
    missing: tuple[str, ...]  # Russian words the glossary does not know (left out of the text)

    @property
    def coverage(self) -> float:
        return 1.0 if not self.text and not self.missing else len(self.text.split()) / (len(self.text.split()) + len(self.missing))


def translate_ru_en(text: str) -> Translation:
    """Translate Russian scene text to English with the glossary; Latin words and numbers pass through."""
    tokens = tokenize(text)
    table = glossary()
    out: list[str] = []
    missing: list[str] = []
    order = _english_order(tokens)
    for i in order:
        tok = tokens[i]
        if tok.kind == "punct":
            if tok.text in ",.;:!?" and out and out[-1] not in ",.;:!?":
                out.append(tok.text)
            continue
        if tok.kind != "ru":
            out.append(tok.text)
            continue
        word = _translate_word(tokens, i, table)
        if word is None:
            if not tok.keys & _DROP:
                missing.append(tok.text)
            continue
        if word:
            prev = out[-1] if out else None
            if _needs_of(tokens, i) and prev not in (None, ",", "of"):
                out.append("of")
            out.append(word)
    text_out = " ".join(out)
    for mark in ",.;:!?":
        text_out = text_out.replace(" " + mark, mark)
    text_out = text_out.strip(" ,;:")
    if text_out and text[:1].isupper():
        text_out = text_out[0].upper() + text_out[1:]
    return Translation(text_out, tuple(missing))


def _english_order(tokens: list[Token]) -> list[int]:
    """Token order for English: a Russian verb before its subject ("идёт дождь") goes after it."""
    order = list(range(len(tokens)))
    i = 0
    while i < len(order):
        tok = tokens[order[i]]
        if tok.kind == "ru" and tok.pos == "VERB":
            j = i + 1
            while j < len(order) and tokens[order[j]].kind == "ru" and tokens[order[j]].pos in ("ADJF", "PRTF"):
                j += 1
            if j < len(order) and tokens[order[j]].kind == "ru" and tokens[order[j]].pos == "NOUN" and \
                    tokens[order[j]].case == "nomn":
                order[i:j + 1] = order[i + 1:j + 1] + [order[i]]
                i = j
        i += 1
    return order


def _translate_word(tokens: list[Token], i: int, table: Mapping[str, Mapping[str, tuple[str, str | None]]]) -> str | None:
    tok = tokens[i]
    low = tok.low
    if low in table["other"]:  # exact forms first: "днём", "ночью" are adverbs here
        return table["other"][low][0]
    if low in _CASE_PREPS:
        case = _next_case(tokens, i)
        rule = _CASE_PREPS[low]
        return rule.get(case or "", rule["default"])
    lemma = fold(tok.lemma)
    ordered = [lemma] + sorted(k for k in tok.keys if k != lemma)
    if tok.pos in ("VERB", "INFN", "PRTF", "PRTS", "GRND"):
        parts = ("verb", "adj", "noun", "other")
    elif tok.pos in ("ADJF", "ADJS", "COMP"):
        parts = ("adj", "verb", "noun", "other")
    else:
        parts = ("noun", "adj", "verb", "other")
    for key in ordered:
        for part in parts:
            entry = table[part].get(key)
            if entry is None:
                continue
            if part == "verb" and key in ("идти",) and _nearby_nouns(tokens, i) & {"дождь", "снег"}:
                return "falling"  # "идёт дождь": rain is falling, nobody walks
            if part == "noun":
                singular, plural = entry
                if _is_plural(tokens, i):
                    return plural or _plural(singular)
                return singular
            return entry[0]
    return None


def _is_plural(tokens: list[Token], i: int) -> bool:
    tok = tokens[i]
    if tok.number == "plur":
        return True
    if _needs_of(tokens, i):
        return False  # "огни города": the genitive reading is the one that fits
    prev = tokens[i - 1] if i > 0 else None
    if prev is not None and prev.kind == "ru" and prev.pos == "PREP":
        return False  # after a preposition the best reading's number is reliable
    return tok.plural_possible


def _next_case(tokens: list[Token], i: int) -> str | None:
    """The case a preposition governs, read from its adjective first ("в красном платье": loct)."""
    for j in range(i + 1, min(len(tokens), i + 4)):
        t = tokens[j]
        if t.kind != "ru":
            return None
        if t.pos in ("ADJF", "PRTF") and t.case:
            return "loct" if t.case == "loc2" else t.case
        if t.pos == "NOUN" or t.pos == "NPRO":
            if t.noun_cases & {"loct", "loc2"}:
                return "loct"  # "в платье", "на поле": a place is more likely than a direction
            return "loct" if t.case == "loc2" else t.case
    return None


def _needs_of(tokens: list[Token], i: int) -> bool:
    """A genitive noun right after a noun: "берег моря" -> "shore of sea"."""
    tok = tokens[i]
    if tok.pos != "NOUN" or tok.case != "gent" or i == 0:
        return False
    prev = tokens[i - 1]
    return prev.kind == "ru" and prev.pos == "NOUN"


def _nearby_nouns(tokens: list[Token], i: int) -> frozenset[str]:
    keys: set[str] = set()
    for j in range(max(0, i - 2), min(len(tokens), i + 3)):
        if j != i and tokens[j].kind == "ru" and tokens[j].pos == "NOUN":
            keys |= tokens[j].keys
    return frozenset(keys)
