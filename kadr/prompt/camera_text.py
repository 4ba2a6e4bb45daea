"""Camera instructions in a prompt: which motion, how fast, and which words said so.

The text is cut into clauses at punctuation and into sub-clauses at words that bring their own
subject ("и", "как", "while", "of"). A sub-clause speaks about the camera when the camera is its
subject ("камера", "объектив", "мы" + a first-person verb, "camera", "we"), or when it holds a word
that only a camera does ("панорама", "наезд", "zoom", "pan"). "Машина приближается" or "people walk
left" therefore say nothing about the camera, and "девушка смотрит в камеру" neither (the camera
follows a preposition, so it is not the subject).

Inside a camera scope every word votes with a strength: explicit direction words ("влево",
"слева направо", "up", "closer") 3, verbs and nouns that carry a direction ("приближается",
"поднимается", "наезд", "zoom") 2, prepositions ("к дому", "вдоль берега", "along") 1, motion without
a direction ("движется", "glides") 0. The strongest vote wins, the earliest among equals, so
"панорама снизу вверх" is a tilt and "zoom out" is not a zoom in. A negated motion ("не двигается",
"no camera movement") or a still-camera word ("статичная", "штатив", "locked-off") without any other
motion gives "static".
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from kadr.prompt import lexicon as lx
from kadr.prompt.morph import Token

_CLAUSE_BREAKS = frozenset(",.;:!?()[]{}—–…")
_MOTION_ROLES = frozenset({"move", "look", "up", "down", "in", "out", "lateral", "tilt", "specific"})
_DIRECTION_ROLES = frozenset({
    "left", "right", "from_left", "from_right", "up_adv", "down_adv", "from_above", "from_below",
    "in_adv", "out_adv", "side_adv",
})
_CONTINUE_ROLES = _MOTION_ROLES | _DIRECTION_ROLES | {"slow", "fast", "along", "particle_in", "particle_out"}
_CONTINUE_SKIP = frozenset({"затем", "потом", "после", "также", "then", "also", "и", "а", "and"})
SPEED_FACTORS: Mapping[str, float] = MappingProxyType({"slow": 0.5, "fast": 2.0})


@dataclass(frozen=True)
class CameraScope:
    """One stretch of text about the camera and what it says."""

    indices: tuple[int, ...]  # token indices of the scope
    label: str | None  # vocabulary label, "lateral", "any_motion", or None (camera named, no motion)
    speed: str | None  # "slow", "fast" or None
    removed: frozenset[int]  # tokens that are the instruction itself
    detail: tuple[int, ...]  # content tokens inside the scope ("к дому", "along the shore")


@dataclass(frozen=True)
class CameraFinding:
    label: str | None
    speed: float
    scopes: tuple[CameraScope, ...]

    @property
    def removed(self) -> frozenset[int]:
        """Every token of a scope that gave a camera label: none of it stays in the scene text."""
        out: set[int] = set()
        for scope in self.scopes:
            if scope.label is not None:
                out |= set(scope.indices)
        return frozenset(out)

    @property
    def instruction(self) -> frozenset[int]:
        """The instruction words alone, without the scene words inside it ("к дому", "along the shore")."""
        out: set[int] = set()
        for scope in self.scopes:
            if scope.label is not None:
                out |= scope.removed
        return frozenset(out)

    @property
    def chosen(self) -> CameraScope | None:
        return next((s for s in self.scopes if s.label is not None), None)

    @property
    def labels(self) -> list[str]:
        return [s.label for s in self.scopes if s.label is not None]


def token_roles(tokens: list[Token], i: int) -> frozenset[str]:
    """Camera roles of token i (before context rules)."""
    tok = tokens[i]
    if tok.kind == "ru":
        form = lx.RU_CAMERA_FORMS.get(tok.low)
        if form is not None:
            return form
        roles: set[str] = set()
        for key in tok.keys:
            roles |= lx.RU_CAMERA.get(key, frozenset())
        if roles & {"left", "right"} and tok.pos in ("ADJF", "ADJS"):
            # "левый"/"правый" name a direction only as "в левую сторону", "к правому краю"
            nxt = _next_word(tokens, i)
            if nxt is None or not ({"сторона", "край"} & tokens[nxt].keys):
                roles -= {"left", "right"}
        return frozenset(roles)
    if tok.kind == "en":
        return lx.EN_CAMERA.get(tok.lemma, frozenset()) | lx.EN_CAMERA.get(tok.low, frozenset())
    return frozenset()


def split_clauses(tokens: list[Token]) -> list[list[int]]:
    """Token indices per clause, cut at punctuation (quotes and hyphens inside words do not cut)."""
    clauses: list[list[int]] = [[]]
    for i, tok in enumerate(tokens):
        if tok.kind == "punct" and (tok.text in _CLAUSE_BREAKS or tok.text == "-"):
            clauses.append([])
        else:
            clauses[-1].append(i)
    return [c for c in clauses if c]


def find_camera(tokens: list[Token]) -> CameraFinding:
    roles = [token_roles(tokens, i) for i in range(len(tokens))]
    roles = _context_roles(tokens, roles)
    scopes: list[CameraScope] = []
    for clause in _attach_gerunds(tokens, roles, split_clauses(tokens)):
        subs = _split_subclauses(clause, roles)
        k = 0
        while k < len(subs):
            sub = list(subs[k])
            if not _is_camera_scope(tokens, roles, sub):
                k += 1
                continue
            # "камера поднимается и поворачивает влево": the next part goes on about the camera.
            while k + 1 < len(subs) and _continues(tokens, roles, subs[k + 1]):
                k += 1
                sub.extend(subs[k])
            scopes.append(_read_scope(tokens, roles, sub))
            k += 1
    chosen = next((s for s in scopes if s.label is not None), None)
    speed = SPEED_FACTORS.get(chosen.speed, 1.0) if chosen and chosen.speed and chosen.label != "static" else 1.0
    return CameraFinding(label=chosen.label if chosen else None, speed=speed, scopes=tuple(scopes))


def _attach_gerunds(tokens: list[Token], roles: list[frozenset[str]], clauses: list[list[int]]) -> list[list[int]]:
    """"Приближаясь, камера показывает дом": a fronted gerund of motion belongs to the next clause's camera."""
    out: list[list[int]] = []
    k = 0
    while k < len(clauses):
        clause = clauses[k]
        if k + 1 < len(clauses) and any(tokens[i].pos == "GRND" and roles[i] & _MOTION_ROLES for i in clause) and \
                not any(roles[i] & {"anchor", "weak_anchor"} for i in clause) and \
                any(roles[i] & {"anchor"} for i in clauses[k + 1]):
            out.append(clause + clauses[k + 1])
            k += 2
            continue
        out.append(clause)
        k += 1
    return out


# ---------------------------------------------------------------- context rules


def _context_roles(tokens: list[Token], roles: list[frozenset[str]]) -> list[frozenset[str]]:
    out = list(roles)
    for i, tok in enumerate(tokens):
        r = out[i]
        if not r:
            continue
        if tok.kind == "ru" and tok.keys & lx.RU_GENITIVE_SENSITIVE:
            # "приближение грозы", "поворот дороги": the noun names someone else's motion.
            nxt = _next_word(tokens, i)
            if nxt is not None and tokens[nxt].pos == "NOUN" and "gent" in tokens[nxt].noun_cases and "anchor" not in out[nxt]:
                out[i] = frozenset()
                continue
        if tok.kind == "en" and r & {"in", "out", "move"} and tok.lemma in lx.EN_PARTICLE_HOSTS:
            # "pull back", "push in", "dolly out": a camera move even without the word camera.
            nxt = _next_word(tokens, i)
            if nxt is not None and (out[nxt] & {"particle_in", "particle_out"} or tokens[nxt].low == "back"):
                out[i] = r | {"specific"}
        if tok.kind == "en" and r & {"left", "right"}:
            out[i] = _en_horizontal(tokens, i, r)
    return out


def _en_horizontal(tokens: list[Token], i: int, r: frozenset[str]) -> frozenset[str]:
    """English "left"/"right": a source after "from" or before "to <direction>", else a destination."""
    side = "left" if "left" in r else "right"
    prev = _prev_word(tokens, i, skip=lx.EN_SKIP_BEFORE_ANCHOR)
    nxt = _next_word(tokens, i)
    is_source = prev is not None and tokens[prev].low == "from"
    if nxt is not None and tokens[nxt].low == "to":
        after = _next_word(tokens, nxt, skip=lx.EN_SKIP_BEFORE_ANCHOR)
        if after is not None and tokens[after].low in ("left", "right"):
            is_source = True
    if is_source:
        return (r - {side}) | {"from_" + side}
    return r


def _split_subclauses(clause: list[int], roles: list[frozenset[str]]) -> list[list[int]]:
    subs: list[list[int]] = [[]]
    for i in clause:
        if "split" in roles[i] and subs[-1]:
            subs.append([])
        subs[-1].append(i)
    return [s for s in subs if s]


def _after_preposition(tokens: list[Token], i: int) -> bool:
    """Whether word i is governed by a preposition ("в камеру", "к камере", "into the camera")."""
    j = i - 1
    hops = 0
    while j >= 0 and hops < 3:
        t = tokens[j]
        if t.kind == "punct":
            return False
        if t.kind == "ru":
            if t.pos == "PREP":
                return True
            if t.pos in ("ADJF", "PRTF", "NUMR") or t.low in ("свою", "своей", "свой"):
                j -= 1
                hops += 1
                continue
            return False
        if t.kind == "en":
            if t.low in lx.EN_PREPOSITIONS:
                return True
            if t.low in lx.EN_SKIP_BEFORE_ANCHOR:
                j -= 1
                hops += 1
                continue
            return False
        return False
    return False


def _is_anchor(tokens: list[Token], roles: list[frozenset[str]], i: int) -> bool:
    r = roles[i]
    if ("anchor" in r or "weak_anchor" in r) and not _after_preposition(tokens, i):
        return True
    # "приближаемся", "пролетаем": a first-person plural motion verb is the camera speaking.
    tok = tokens[i]
    return tok.kind == "ru" and tok.person == "1per" and tok.number == "plur" and bool(r & _MOTION_ROLES)


def _is_camera_scope(tokens: list[Token], roles: list[frozenset[str]], sub: list[int]) -> bool:
    for i in sub:
        r = roles[i]
        if _is_anchor(tokens, roles, i) or "specific" in r or "static_noun" in r:
            return True
        if "static" in r and i + 1 < len(tokens) and ("anchor" in roles[i + 1] or _is_static_position(tokens[i + 1])):
            return True  # "со статичной камеры", "с неподвижной точки": still a still camera after a preposition
    return False


def _continues(tokens: list[Token], roles: list[frozenset[str]], sub: list[int]) -> bool:
    for i in sub:
        if tokens[i].low in _CONTINUE_SKIP:
            continue
        return bool(roles[i] & _CONTINUE_ROLES) and not (roles[i] & {"anchor", "weak_anchor"})
    return False


def _next_word(tokens: list[Token], i: int, skip: frozenset[str] = frozenset()) -> int | None:
    j = i + 1
    while j < len(tokens):
        if tokens[j].kind == "punct":
            return None
        if tokens[j].low not in skip:
            return j
        j += 1
    return None


def _prev_word(tokens: list[Token], i: int, skip: frozenset[str] = frozenset()) -> int | None:
    j = i - 1
    while j >= 0:
        if tokens[j].kind == "punct":
            return None
        if tokens[j].low not in skip:
            return j
        j -= 1
    return None


# ---------------------------------------------------------------- reading one scope


def _read_scope(tokens: list[Token], roles: list[frozenset[str]], sub: list[int]) -> CameraScope:
    in_scope = set(sub)
    negated: set[int] = set()
    for i in sub:
        if "neg" in roles[i]:
            for j in range(i + 1, min(i + 4, len(tokens))):
                if j in in_scope and roles[j] & (_MOTION_ROLES | _DIRECTION_ROLES):
                    negated.add(j)
    has_motion = any(roles[i] & _MOTION_ROLES for i in sub if i not in negated)
    anchors = [i for i in sub if _is_anchor(tokens, roles, i)]

    votes: list[tuple[int, int, str]] = []  # (strength, -position, label)
    static = bool(negated)
    speed: str | None = None
    for i in sub:
        if i in negated:
            continue
        r = roles[i]
        for label, strength in _votes(tokens, roles, i, r, has_motion, in_scope):
            votes.append((strength, -i, label))
        if r & {"static", "stay", "static_noun"} and _static_applies(tokens, roles, i, r, sub, anchors):
            static = True
        if speed is None and r & {"slow", "fast"}:
            speed = "slow" if "slow" in r else "fast"
    if tokens and _in_place(tokens, sub) and anchors:
        static = True
    if not votes and speed is not None and _speed_on_camera(tokens, roles, sub):
        votes.append((0, -sub[0], "any_motion"))  # "плавная камера", "smooth camera"
    if votes:
        label: str | None = max(votes)[2]
    elif static:
        label = "static"
    else:
        label = None

    removed, detail = _instruction_tokens(tokens, roles, sub)
    return CameraScope(indices=tuple(sub), label=label, speed=speed, removed=removed, detail=detail)


def _votes(tokens: list[Token], roles: list[frozenset[str]], i: int, r: frozenset[str], has_motion: bool,
           in_scope: set[int]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    tok = tokens[i]
    # Explicit direction words.
    if "left" in r:
        prev = _prev_word(tokens, i)
        source = tok.kind == "ru" and prev is not None and tokens[prev].low in ("с", "со", "от", "из")
        out.append(("pan_right" if source else "pan_left", 3))
    if "right" in r:
        prev = _prev_word(tokens, i)
        source = tok.kind == "ru" and prev is not None and tokens[prev].low in ("с", "со", "от", "из")
        out.append(("pan_left" if source else "pan_right", 3))
    if "from_left" in r and has_motion:
        out.append(("pan_right", 3))
    if "from_right" in r and has_motion:
        out.append(("pan_left", 3))
    if "up_adv" in r:
        out.append(("tilt_up", 3))
    if "down_adv" in r:
        out.append(("tilt_down", 3))
    if "from_below" in r and has_motion:
        out.append(("tilt_up", 3))
    if "from_above" in r and has_motion:
        out.append(("tilt_down", 3))
    if "in_adv" in r:
        out.append(("zoom_in", 3))
    if "out_adv" in r:
        out.append(("zoom_out", 3))
    if "side_adv" in r:
        out.append(("lateral", 3))
    if r & {"particle_in", "particle_out"}:
        prev = _prev_word(tokens, i)
        if prev is not None and prev in in_scope and tokens[prev].lemma in lx.EN_PARTICLE_HOSTS:
            nxt = _next_word(tokens, i)
            if "particle_out" in r:
                out.append(("zoom_out", 3))
            elif tok.low == "into" or nxt is None or tokens[nxt].low in ("on", "to", "toward", "towards", "and", "closer"):
                out.append(("zoom_in", 3))
    # Verbs and nouns carrying a direction.
    if "up" in r:
        out.append(("tilt_up", 2))
    if "down" in r:
        out.append(("tilt_down", 2))
    if "in" in r:
        out.append(("zoom_in", 2))
    if "out" in r:
        out.append(("zoom_out", 2))
    if "lateral" in r and not r & {"in", "out"}:
        out.append(("lateral", 2))
    if "tilt" in r:
        out.append(("any_motion", 2))
    # Prepositions: only with a motion to attach to.
    if has_motion and "toward" in r:
        label = _target_label(tokens, _next_noun(tokens, i, in_scope), tok)
        if label is not None:
            out.append((label, 1))
    if has_motion and "away_from" in r:
        out.append(("zoom_out", 1))
    if has_motion and "along" in r:
        out.append(("lateral", 1))
    if r & {"move"} and not r & {"up", "down", "in", "out", "lateral", "tilt"}:
        out.append(("any_motion", 0))
    return out


def _next_noun(tokens: list[Token], i: int, in_scope: set[int]) -> int | None:
    j = i + 1
    while j < len(tokens) and j in in_scope and j <= i + 4:
        t = tokens[j]
        if t.kind == "ru" and t.pos == "NOUN":
            return j
        if t.kind == "en" and t.low not in lx.EN_DETERMINERS and t.low not in lx.EN_FUNCTION:
            # English has no tags here: the head is the last word before a break.
            k = j
            while k + 1 in in_scope and k + 1 < len(tokens) and tokens[k + 1].kind == "en" and \
                    tokens[k + 1].low not in lx.EN_PREPOSITIONS and tokens[k + 1].low not in lx.EN_FUNCTION:
                k += 1
            return k
        j += 1
    return None


def _target_label(tokens: list[Token], target: int | None, prep: Token) -> str | None:
    if prep.kind == "ru":
        if target is None:
            return None
        keys = tokens[target].keys
        if keys & lx.RU_UP_TARGETS:
            return "tilt_up"
        if keys & lx.RU_DOWN_TARGETS:
            return "tilt_down"
        if keys & lx.RU_OUT_TARGETS:
            return "zoom_out"
        return "zoom_in"
    if target is None:
        return None
    stem = tokens[target].lemma
    if stem in lx.EN_UP_TARGETS:
        return "tilt_up"
    if stem in lx.EN_DOWN_TARGETS:
        return "tilt_down"
    if stem in lx.EN_OUT_TARGETS:
        return "zoom_out"
    if prep.low in ("toward", "towards", "into"):
        return "zoom_in"
    return None  # plain "to": only a sky or ground target says anything


def _static_applies(tokens: list[Token], roles: list[frozenset[str]], i: int, r: frozenset[str], sub: list[int],
                    anchors: list[int]) -> bool:
    if "static_noun" in r:
        return True
    has_anchor = bool(anchors) or any(roles[j] & {"anchor", "weak_anchor"} for j in sub)
    if "stay" in r:
        # "the camera holds still", not "a photographer holds a camera": the camera comes first.
        return has_anchor and any(j < i and roles[j] & {"anchor", "weak_anchor"} for j in sub)
    nxt = _next_word(tokens, i)
    if nxt is not None and nxt in sub and _is_static_position(tokens[nxt]):
        return True  # "с неподвижной точки", "from a fixed position"
    if not has_anchor:
        return False
    # "неподвижная вода", "still water": the adjective describes something else.
    if nxt is None or nxt not in sub:
        return True
    if roles[nxt] & {"anchor", "weak_anchor", "split"}:
        return True
    t = tokens[nxt]
    if t.kind == "ru":
        return t.pos != "NOUN"
    if t.low in lx.EN_FUNCTION or t.low in lx.EN_PREPOSITIONS:
        return True
    # "static wide shot", "fixed overhead camera": one more adjective before the shot word.
    after = _next_word(tokens, nxt)
    return after is not None and after in sub and bool(roles[after] & {"anchor", "weak_anchor"})


def _is_static_position(tok: Token) -> bool:
    if tok.kind == "ru":
        return bool(tok.keys & lx.RU_STATIC_POSITIONS)
    return tok.kind == "en" and tok.lemma in lx.EN_STATIC_POSITIONS


def _in_place(tokens: list[Token], sub: list[int]) -> bool:
    """"на месте" (on the spot): a camera that stays where it is."""
    for a, b in zip(sub, sub[1:]):
        if tokens[a].low == "на" and "место" in tokens[b].keys:
            return True
    return False


def _speed_on_camera(tokens: list[Token], roles: list[frozenset[str]], sub: list[int]) -> bool:
    for a, b in zip(sub, sub[1:]):
        if roles[a] & {"slow", "fast"} and tokens[b].low in ("камера", "camera", "cam"):
            return True
    return False


def _instruction_tokens(tokens: list[Token], roles: list[frozenset[str]], sub: list[int]) -> tuple[frozenset[int], tuple[int, ...]]:
    """Split a scope into the instruction (removed from the scene text) and its content ("к дому")."""
    is_content = []
    for i in sub:
        t = tokens[i]
        content = not roles[i] and t.kind in ("ru", "en", "num")
        is_content.append(content)
    detail: list[int] = []
    for pos, i in enumerate(sub):
        if not is_content[pos]:
            continue
        detail.append(i)
    # A run of content words takes the preposition just before it with it ("к", "along", "past").
    with_preps: set[int] = set(detail)
    for pos, i in enumerate(sub):
        if is_content[pos] or pos + 1 >= len(sub) or not is_content[pos + 1]:
            continue
        t = tokens[i]
        if roles[i] & {"toward", "away_from", "along", "particle_in"} or (t.kind == "ru" and t.pos == "PREP") or \
                (t.kind == "en" and t.low in lx.EN_PREPOSITIONS):
            with_preps.add(i)
    words = sorted(with_preps)
    content_words = [i for i in words if _is_content_word(tokens[i])]
    if not content_words:
        return frozenset(sub), ()
    return frozenset(i for i in sub if i not in with_preps), tuple(words)


def _is_content_word(tok: Token) -> bool:
    if tok.kind == "ru":
        return not (tok.keys & lx.RU_FUNCTION) and tok.pos not in ("PREP", "CONJ", "PRCL", "NPRO")
    if tok.kind == "en":
        return tok.low not in lx.EN_FUNCTION and tok.low not in lx.EN_DETERMINERS
    return tok.kind == "num"
