"""Camera instructions in a prompt: which motion, how fast, and which words said so.

The text is cut into clauses at punctuation and into sub-clauses at words that bring their own
subject ("и", "как", "while", "of"). A sub-clause speaks about the camera when the camera is its
subject ("камера", "объектив", "мы" + a first-person verb, "camera", "we"), or when it holds a word
that only a camera does ("панорама", "наезд", "zoom", "pan"), or when an instruction leaves the
camera unsaid: a film verb with its direction ("crane up", "truck left", "pull back"), an imperative or
infinitive ("Move closer", "Плавно отъехать"), a change of shot size ("от общего плана к крупному"),
a clause of directions or "static" alone. "Машина приближается", "people walk left", "a man pans for
gold" and "машина наезжает" therefore say nothing about the camera (someone else is the subject),
and "девушка смотрит в камеру" or "мальчик поднимает камеру" neither (the camera is an object).

Inside a camera scope every word votes with a strength: explicit direction words ("влево",
"слева направо", "up", "closer") 3, verbs and nouns that carry a direction ("приближается",
"поднимается", "наезд", "zoom") 2, prepositions ("к дому", "вдоль берега", "along") 1, motion without
a direction ("движется", "glides") 0. Each vote joins the motion word it follows; each motion word
reads as its strongest vote, the earliest among equals, so "панорама снизу вверх" is a tilt and "zoom
out" is not a zoom in; the first motion word that names a direction gives the scope's label
("наезд с поворотом вправо" is a zoom in, the pan is kept for a warning). A negated motion ("не
двигается", "no camera movement") or a still-camera word ("статичная", "штатив", "locked-off") without
any other motion gives "static". A move kadr has no preset for ("облёт", "orbit", "crane", "handheld")
takes the nearest preset as lexicon.NO_PRESET_MOVES says, and the scope remembers which move it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from kadr.camera import CAMERA_MOTIONS
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
# Direction words that make the English word before them a camera instruction ("crane up", "truck left").
_LICENSING_DIRECTIONS = frozenset({
    "particle_in", "particle_out", "left", "right", "from_left", "from_right", "up_adv", "down_adv", "in_adv",
    "out_adv", "side_adv",
})
_DIRECTED_VERB_ROLES = frozenset({"up", "down", "in", "out", "lateral"})
# A clause of these alone ("left to right", "слева направо", "static") says nothing but camera.
_BARE_ROLES = _DIRECTION_ROLES | {"slow", "fast", "static", "handheld", "toward", "away_from"}
_STANDALONE_ROLES = frozenset({"static", "handheld"})  # a clause of these alone is a camera instruction
_BARE_GLUE = frozenset({"from", "to", "с", "со", "на", "и", "and", "then", "потом", "затем"})
_PRESET_MOVES = frozenset(CAMERA_MOTIONS) - {"static"}
_MIRROR: Mapping[str, str] = MappingProxyType({"pan_left": "pan_right", "pan_right": "pan_left"})
SPEED_FACTORS: Mapping[str, float] = MappingProxyType({"slow": 0.5, "fast": 2.0})


@dataclass(frozen=True)
class CameraScope:
    """One stretch of text about the camera and what it says."""

    indices: tuple[int, ...]  # token indices of the scope
    label: str | None  # vocabulary label, "lateral", "any_motion", or None (camera named, no motion)
    speed: str | None  # "slow", "fast" or None
    removed: frozenset[int]  # tokens that are the instruction itself
    detail: tuple[int, ...]  # content tokens inside the scope ("к дому", "along the shore")
    move: str | None = None  # a move kadr has no preset for (lexicon.NO_PRESET_MOVES), shown as ``label``
    later: tuple[str, ...] = ()  # labels of further moves in the same scope ("наезд с поворотом вправо")


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
        """The first scope naming a preset ("камера движется плавно, потом панорама влево": the pan), else
        the first scope with any label."""
        labelled = [s for s in self.scopes if s.label is not None]
        return next((s for s in labelled if s.label in CAMERA_MOTIONS), labelled[0] if labelled else None)

    @property
    def labels(self) -> list[str]:
        """Every move asked for: the chosen one first, then the rest in text order (for a warning)."""
        chosen = self.chosen
        ordered = ([chosen] if chosen is not None else []) + [s for s in self.scopes if s is not chosen]
        out: list[str] = []
        for s in ordered:
            if s.label is not None:
                out.append(s.label)
                out.extend(s.later)
        return out

    @property
    def move(self) -> str | None:
        """The chosen move's kind when kadr has no preset for it ("orbit", "crane", ...), or None; another
        scope that reads the same may name it ("камера слегка покачивается, ручная съёмка")."""
        chosen = self.chosen
        if chosen is None:
            return None
        return next((s.move for s in self.scopes if s.move is not None and s.label == chosen.label), None)


def token_roles(tokens: list[Token], i: int) -> frozenset[str]:
    """Camera roles of token i (before context rules)."""
    tok = tokens[i]
    prev = tokens[i - 1] if i > 0 and tokens[i - 1].kind == tok.kind else None
    if tok.kind == "ru":
        form = lx.RU_CAMERA_FORMS.get(tok.low)
        if form is not None:
            return form
        roles: set[str] = set()
        for key in tok.keys:
            roles |= lx.RU_CAMERA.get(key, frozenset())
            for prev_key in prev.keys if prev is not None else ():
                roles |= lx.RU_CAMERA_PAIRS.get((prev_key, key), frozenset())
        if roles & {"left", "right"} and tok.pos in ("ADJF", "ADJS"):
            # "левый"/"правый" name a direction only as "в левую сторону", "к правому краю"
            nxt = _next_word(tokens, i)
            if nxt is None or not ({"сторона", "край"} & tokens[nxt].keys):
                roles -= {"left", "right"}
        return frozenset(roles)
    if tok.kind == "en":
        pair = lx.EN_CAMERA_PAIRS.get((prev.lemma, tok.lemma), frozenset()) if prev is not None else frozenset()
        return lx.EN_CAMERA.get(tok.lemma, frozenset()) | lx.EN_CAMERA.get(tok.low, frozenset()) | pair
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
    clauses = _attach_bare_directions(tokens, roles, _attach_gerunds(tokens, roles, split_clauses(tokens)))
    for clause in clauses:
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
    finding = CameraFinding(label=None, speed=1.0, scopes=tuple(scopes))
    chosen = finding.chosen
    if chosen is None:
        return finding
    # "Наезд на кофе, slow push in": the same move said twice; its speed may come with either.
    said = next((s.speed for s in scopes if s.speed and s.label == chosen.label), None)
    speed = SPEED_FACTORS.get(said, 1.0) if said and chosen.label != "static" else 1.0
    return CameraFinding(label=chosen.label, speed=speed, scopes=tuple(scopes))


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


def _is_bare(tokens: list[Token], roles: list[frozenset[str]], clause: list[int]) -> bool:
    """A clause of camera directions alone: "left to right", "слева направо", "static"."""
    return any(roles[i] & _BARE_ROLES for i in clause) and all(
        roles[i] & _BARE_ROLES or tokens[i].low in _BARE_GLUE for i in clause)


def _attach_bare_directions(tokens: list[Token], roles: list[frozenset[str]],
                            clauses: list[list[int]]) -> list[list[int]]:
    """"Panning shot, left to right, over the harbour": bare directions belong to the camera clause beside them."""
    out = [list(c) for c in clauses]
    k = 0
    while k < len(out):
        clause = out[k]
        if _is_bare(tokens, roles, clause) and not any(roles[i] & _STANDALONE_ROLES for i in clause):
            if k > 0 and _is_camera_scope(tokens, roles, out[k - 1]):
                out[k - 1] = out[k - 1] + clause
                del out[k]
                continue
            if k + 1 < len(out) and _is_camera_scope(tokens, roles, out[k + 1]):
                out[k + 1] = clause + out[k + 1]
                del out[k]
                continue
        k += 1
    return out


# ---------------------------------------------------------------- context rules


def _context_roles(tokens: list[Token], roles: list[frozenset[str]]) -> list[frozenset[str]]:
    out = list(roles)
    for i, tok in enumerate(tokens):
        r = out[i]
        if not r and not (tok.kind == "en" and tok.lemma in lx.EN_IMPERATIVE_HOSTS):
            continue
        if tok.kind == "ru" and tok.keys & lx.RU_GENITIVE_SENSITIVE:
            # "приближение грозы", "поворот дороги": the noun names someone else's motion.
            nxt = _next_word(tokens, i)
            if nxt is not None and tokens[nxt].pos == "NOUN" and "gent" in tokens[nxt].noun_cases and "anchor" not in out[nxt]:
                out[i] = frozenset()
                continue
        if tok.kind == "en" and _en_other_subject(tokens, out, i):
            # "A man pans for gold", "the moon orbits the earth": someone else's verb.
            out[i] = frozenset()
            continue
        if tok.kind == "ru" and "specific" in r and tok.pos == "VERB" and _ru_subject_before(tokens, out, i):
            # "Машина наезжает на бордюр": the car's move; "камера наезжает" stays a camera move.
            out[i] = r - {"specific"}
        elif tok.kind == "ru" and (tok.pos == "INFN" or tok.mood == "impr") and r & _DIRECTED_VERB_ROLES and \
                not _ru_subject_before(tokens, out, i):
            # "Плавно отъехать от цветка", "зумни на луну": an instruction with the camera unsaid.
            out[i] = r | {"specific"}
        if tok.kind == "en" and tok.lemma in lx.EN_PARTICLE_HOSTS and r & _MOTION_ROLES:
            # "pull back", "push in", "crane up", "truck left", "crane shot": a camera move even without
            # the word camera ("a truck drives left", "the crane lifts a beam" are no such pair).
            nxt = _next_word(tokens, i, skip=lx.EN_PARTICLE_SKIP)
            if nxt is not None and (out[nxt] & _LICENSING_DIRECTIONS or tokens[nxt].low == "back" or
                                    tokens[nxt].lemma in lx.EN_SHOT_NOUNS):
                out[i] = r | {"specific"}
        elif tok.kind == "en" and (r & _MOTION_ROLES or tok.lemma in lx.EN_IMPERATIVE_HOSTS) and \
                _en_imperative(tokens, out, i):
            out[i] = r | {"specific", "move"}
        if tok.kind == "en" and tok.lemma in lx.EN_MOVE_NOUNS and "specific" not in out[i] and \
                not _beside_anchor(tokens, out, i):
            out[i] = frozenset()  # "the camera follows a truck": a thing, not a truck move
        if tok.kind == "en" and r & {"left", "right"}:
            out[i] = _en_horizontal(tokens, i, r)
    return out


def _beside_anchor(tokens: list[Token], roles: list[frozenset[str]], i: int) -> bool:
    prev, nxt = _prev_word(tokens, i), _next_word(tokens, i)
    return any(j is not None and bool(roles[j] & {"anchor", "weak_anchor"}) for j in (prev, nxt))


def _en_other_subject(tokens: list[Token], roles: list[frozenset[str]], i: int) -> bool:
    """An English motion verb in its -s form right after a noun that is not the camera ("the moon orbits")."""
    tok = tokens[i]
    if not roles[i] & _MOTION_ROLES or not tok.low.endswith("s") or tok.low == tok.lemma or i == 0:
        return False
    prev = tokens[i - 1]
    if prev.kind != "en" or roles[i - 1] or prev.low.endswith("ly"):
        return False
    return prev.low not in lx.EN_FUNCTION and prev.low not in lx.EN_DETERMINERS and prev.low not in lx.EN_PREPOSITIONS


def _en_imperative(tokens: list[Token], roles: list[frozenset[str]], i: int) -> bool:
    """"Move closer", "Look left at the sunset", "Slowly get closer": a bare verb first in its clause,
    then a direction."""
    tok = tokens[i]
    if tok.low.endswith(("s", "ing", "ed")):
        return False
    j = i - 1
    while j >= 0 and tokens[j].kind == "en" and roles[j] & {"slow", "fast"}:
        j -= 1
    if j >= 0 and tokens[j].kind != "punct":
        return False
    nxt = _next_word(tokens, i)
    return nxt is not None and bool(roles[nxt] & _LICENSING_DIRECTIONS)


def _ru_subject_before(tokens: list[Token], roles: list[frozenset[str]], i: int) -> bool:
    """A nominative noun earlier in the clause that is not the camera ("машина наезжает", "люди подниматься")."""
    j = i - 1
    while j >= 0 and tokens[j].kind != "punct":
        t = tokens[j]
        if t.kind == "ru" and t.pos == "NOUN" and "nomn" in t.noun_cases and not roles[j] & {"anchor", "weak_anchor"} \
                and not _after_preposition(tokens, j):
            return True
        j -= 1
    return False


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
        # "Мальчик поднимает камеру": the camera is the boy's object, not the subject of the motion.
        return not (tokens[i].kind == "ru" and tokens[i].case == "accs" and _ru_subject_before(tokens, roles, i))
    return _first_person_motion(tokens, roles, i)


def _first_person_motion(tokens: list[Token], roles: list[frozenset[str]], i: int) -> bool:
    r = roles[i]
    # "приближаемся", "пролетаем": a first-person plural motion verb is the camera speaking.
    tok = tokens[i]
    return tok.kind == "ru" and tok.person == "1per" and tok.number == "plur" and bool(r & _MOTION_ROLES)


def _is_camera_scope(tokens: list[Token], roles: list[frozenset[str]], sub: list[int]) -> bool:
    if _framing_transition(tokens, sub) is not None:
        return True
    if _is_bare(tokens, roles, sub) and any(roles[i] & _STANDALONE_ROLES for i in sub):
        return True  # "Extreme close-up of an eye, static", "handheld, following a cyclist"
    for i in sub:
        r = roles[i]
        if _is_anchor(tokens, roles, i) or "specific" in r or "static_noun" in r:
            return True
        if "static" in r and i + 1 < len(tokens) and ("anchor" in roles[i + 1] or _is_static_position(tokens[i + 1])):
            return True  # "со статичной камеры", "с неподвижной точки": still a still camera after a preposition
    return False


def _framing_transition(tokens: list[Token], sub: list[int]) -> tuple[int, str] | None:
    """"От общего плана к крупному", "from a wide shot to a close-up": (position, zoom_in or zoom_out)."""
    sizes: list[tuple[int, int]] = []
    for i in sub:
        t = tokens[i]
        if t.kind == "ru":
            scale = next((lx.RU_FRAMING_SCALE[k] for k in t.keys if k in lx.RU_FRAMING_SCALE), None)
        elif t.kind == "en":
            scale = lx.EN_FRAMING_SCALE.get(t.lemma)
        else:
            scale = None
        if scale is not None:
            sizes.append((i, scale))
    if len(sizes) < 2:
        return None
    first, first_scale = sizes[0]
    if not any(j < first and (tokens[j].keys & lx.RU_FRAMING_SOURCE or tokens[j].low in lx.EN_FRAMING_SOURCE)
               for j in sub):
        return None
    for _, scale in sizes[1:]:
        if scale != first_scale:
            return first, "zoom_in" if scale > first_scale else "zoom_out"
    return None


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
    vertical_verb = any(roles[i] & {"up", "down"} for i in sub if i not in negated)
    framing = _framing_transition(tokens, sub)
    if framing is not None:
        votes.append((3, -framing[0], framing[1]))
    for i in sub:
        if i in negated:
            continue
        r = roles[i]
        for label, strength in _votes(tokens, roles, i, r, has_motion, in_scope, vertical_verb):
            votes.append((strength, -i, label))
        if r & {"static", "stay", "static_noun"} and _static_applies(tokens, roles, i, r, sub, anchors):
            static = True
        if speed is None and r & {"slow", "fast"}:
            speed = "slow" if "slow" in r else "fast"
    if tokens and _in_place(tokens, sub) and anchors:
        static = True
    if _is_bare(tokens, roles, sub) and any("static" in roles[i] for i in sub):
        static = True  # "..., static": a clause that says only that
    if not votes and speed is not None and _speed_on_camera(tokens, roles, sub):
        votes.append((0, -sub[0], "any_motion"))  # "плавная камера", "smooth camera"
    later: tuple[str, ...] = ()
    if votes:
        heads = [i for i in sub if i not in negated and roles[i] & _MOTION_ROLES]
        label, later = _first_move(votes, heads)
    elif static:
        label = "static"
    else:
        label = None

    move = _no_preset_move(tokens, roles, [i for i in sub if i not in negated], has_motion)
    if move is not None and label != "static":
        rule = lx.NO_PRESET_MOVES[move]
        if label is None or label in rule.replaces:
            label = rule.default
        elif rule.mirror and label in _MIRROR:
            label = _MIRROR[label]
    else:
        move = None

    removed, detail = _instruction_tokens(tokens, roles, sub)
    return CameraScope(indices=tuple(sub), label=label, speed=speed, removed=removed, detail=detail, move=move,
                       later=later)


def _no_preset_move(tokens: list[Token], roles: list[frozenset[str]], sub: list[int], has_motion: bool) -> str | None:
    """Which move without a preset the scope names, if any (lexicon.NO_PRESET_MOVES, in its order)."""
    named: set[str] = set()
    bare = _is_bare(tokens, roles, sub)
    for i in sub:
        r = roles[i]
        moves = {m for m in lx.NO_PRESET_MOVES if m in r}
        if has_motion:
            moves |= {lx.MOVE_PATH_ROLES[p] for p in lx.MOVE_PATH_ROLES if p in r}
        if moves and tokens[i].kind == "en" and not ("specific" in r or bare or _next_to_anchor(roles, sub, i)):
            continue  # "the camera follows a crane", "a truck": the word names a thing, not the move
        named |= moves
    return next((m for m in lx.NO_PRESET_MOVES if m in named), None)


def _next_to_anchor(roles: list[frozenset[str]], sub: list[int], i: int) -> bool:
    """"The camera trucks right", "handheld camera", "shaky cam": the move word is the camera's own."""
    pos = sub.index(i)
    around = sub[max(0, pos - 1):pos] + sub[pos + 1:pos + 2]
    return any(roles[j] & {"anchor", "weak_anchor"} for j in around)


def _first_move(votes: list[tuple[int, int, str]], heads: list[int]) -> tuple[str, tuple[str, ...]]:
    """The scope's label: each vote joins the motion word it follows (the next one, when it comes before
    them all), each motion word reads as its strongest vote, and the first that names a direction wins
    ("камера поднимается и поворачивает влево" is tilt_up, then pan_left). Returns (label, later labels)."""
    groups: dict[int, list[tuple[int, int, str]]] = {}
    for vote in votes:
        pos = -vote[1]
        before = [h for h in heads if h <= pos]
        head = before[-1] if before else next((h for h in heads if h > pos), pos)
        groups.setdefault(head, []).append(vote)
    readings = [(head, max(group)[2]) for head, group in sorted(groups.items())]
    directed = [label for _, label in readings if label in _PRESET_MOVES]
    if not directed:
        return max(votes)[2], ()
    first = directed[0]
    return first, tuple(dict.fromkeys(label for label in directed[1:] if label != first))


def _votes(tokens: list[Token], roles: list[frozenset[str]], i: int, r: frozenset[str], has_motion: bool,
           in_scope: set[int], vertical_verb: bool = False) -> list[tuple[str, int]]:
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
    # "Камера сверху поднимается": with a verb that says up or down, "сверху" is where the camera is.
    source_strength = 1 if vertical_verb else 3
    if "from_below" in r and has_motion:
        out.append(("tilt_up", source_strength))
    if "from_above" in r and has_motion:
        out.append(("tilt_down", source_strength))
    if "in_adv" in r:
        out.append(("zoom_in", 3))
    if "out_adv" in r:
        out.append(("zoom_out", 3))
    if "side_adv" in r:
        out.append(("lateral", 3))
    if r & {"particle_in", "particle_out"}:
        prev = _prev_word(tokens, i, skip=lx.EN_PARTICLE_SKIP)
        if prev is not None and prev in in_scope and tokens[prev].lemma in lx.EN_PARTICLE_HOSTS:
            nxt = _next_word(tokens, i)
            if "particle_out" in r:
                out.append(("zoom_out", 3))
            elif tok.low == "into" or nxt is None or "split" in roles[nxt] or \
                    tokens[nxt].low in ("on", "to", "toward", "towards", "and", "closer", "tight"):
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
    # Runs of neighbouring words; a run without a content word is instruction filler ("The" before
    # "camera", "to the" before "right"), and so are the function words closing a run.
    runs: list[list[int]] = []
    for i in sorted(with_preps):
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    words: list[int] = []
    for run in runs:
        while run and not _is_content_word(tokens[run[-1]]):
            run.pop()
        if any(_is_content_word(tokens[i]) for i in run):
            words.extend(run)
    if not words:
        return frozenset(sub), ()
    return frozenset(i for i in sub if i not in words), tuple(words)


def _is_content_word(tok: Token) -> bool:
    if tok.kind == "ru":
        return not (tok.keys & lx.RU_FUNCTION) and tok.pos not in ("PREP", "CONJ", "PRCL", "NPRO")
    if tok.kind == "en":
        return tok.low not in lx.EN_FUNCTION and tok.low not in lx.EN_DETERMINERS
    return tok.kind == "num"
