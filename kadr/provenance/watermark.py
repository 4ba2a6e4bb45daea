"""An invisible watermark in a video's frames: a 32-bit payload (studio and job) that survives what
platforms do to a video (H.264 at a lower bitrate, half-size downscaling, a crop of a few percent, a
GIF conversion).

Why our own: ``invisible-watermark`` 0.2.0 was measured first on 512x288 procedural-world frames
(32 bits): dwtDct read 67% of the bits back untouched and 46% after a 3% crop, dwtDctSvd 100% / 48%,
and neither decodes a half-size frame; RivaGAN survives the crop (98%) but takes 1.9 s a frame on
CPU, and dwtDct alone costs 9 ms a frame, while the whole fast tier makes a frame in about 12 ms.
A first spread-spectrum mark of our own (added patterns, read by correlation) lost to the picture
itself: at the 1 dB budget the picture's own energy at the mark's scale is 5-30x the mark's.

RivaGAN's ONNX pair (in the wheel, MIT) was measured again through onnxruntime at 256x144: 1.0 s a frame
to mark on one thread, 78% of its 32 bits read back from kadr's own encode and 56-59% after H.264 at
half the bitrate, a half-size copy or a 4% crop, and a 1.36 dB cost: no fit either.

So the mark is spread-transform dither modulation (Chen & Wornell's QIM) on the clip's mean luma,
which the picture does not interfere with, carrying a convolutional code read with soft decisions:

- The frame is a grid of 576 cells in normalised coordinates (32x18 for 16:9), so a downscaled copy
  maps onto the same grid; on the fast tier's frames each cell is a whole 8x8 block of pixels (12x12 on
  the high tier's). Cells near the edges carry nothing, so a crop of up to 4% a side keeps every marked cell.
- The 32-bit payload and a 12-bit check (a keyed CRC) go through a rate-1/3 convolutional code
  (constraint length 7), 112 of its 150 code bits sent; each code bit owns 4 scattered cells with
  balanced signs (2 +, 2 -: a change of overall brightness cancels).
- A code bit is the projection p = mean(sign * cell mean luma) over its cells, quantised onto one of
  two interleaved lattices (a step, a secret dither per bit): embedding moves p to the nearest
  point of the bit's lattice, which costs at most half a step per cell whatever the picture.
- The step is the video's own (one of STEPS, sqrt(2) apart): what the mark costs depends on the picture, not
  on the step alone. The PSNR of the encoded file falls by 10 log10(1 + added / encoder's error), and x264's
  own error on a flat, still sunset is a tenth of that on a textured pan, so one step cost 1.19 dB on the
  first and 0.03 on the second. The embedder encodes 6 frames at the start and 6 at the end of the first
  chunk as kadr's MP4, in memory, without and with the mark at 2.3 (~55 ms at 256x144), and takes the largest
  step whose predicted cost is within 0.8 dB: a flat picture gets 1.6, a textured one up to 4.6, where a
  half-size copy still decodes. Detection does not need to be told: it reads every step and keeps the one
  the decoder agrees with best.
- The offset is constant over each cell (the least squared change for a cell's mean, and on whole 8x8
  blocks nothing but the DC of the encoder's transform blocks), rounded with an ordered dither so a
  block's mean keeps its fraction. The same offset goes on every frame of a chunk; chunks are marked
  causally so the mean of all frames so far sits on the lattice (streams are marked as they come).
- Cell means are exact box integrals (each pixel a constant square; see _box_resize), in embedding and
  detection alike. On cells of whole even blocks a half-size box downscale keeps every cell's mean
  exactly; with the earlier 7.1-pixel cells and resampling by interpolation, the downscale alone
  (before any encoder) moved a bit's projection by 0.41 levels (std), as much as H.264 at half the
  bitrate did; now 0.14, what kadr's own encode does.
- Detection averages the luma of every frame and reads each code bit softly, cos(2 pi phase) on its
  lattice (+1: surely 0, -1: surely 1). It searches the crop (visible fraction of width and height,
  then the offset) with the decoder itself: a Viterbi pass over every candidate at once gives the
  agreement (mean code sign * soft bit) of the best of all 2^44 messages. The best distinct coarse
  crops are refined, then the best two to 0.1% and 1/32 of a cell (a 1/8-cell search lost up to 0.2 of
  agreement at a true 4% crop). The whole frame is read first, then the crops of kadr's own frame
  sizes at whole pixels, the search only when both fail; a payload is reported when its 12-bit check matches.
  Each reading chooses its step before the check, so trying four steps does not add false positives.
- When nothing decodes, a studio can still tell its own copies: given the payloads of its jobs (the service's
  store, ``kadr verify --jobs-from``), each candidate's code word is scored against the soft bits of every crop
  read, in standard deviations of what an unrelated code word would score, and the best is reported when it
  clears a Bonferroni threshold for candidates x crops x steps (MATCH_FALSE_ALARM). Telling one of N known
  payloads needs log2(N) bits of evidence where decoding needs 44: at the crops detection reads, a half-size
  copy's soft bits score a median 6.1 sigma on their own payload (8 world clips at step 2.3, 2 of them
  decoded) where 10,000 candidates at 4 crops need 5.5 (at 4 steps, 5.7). It does not help where the mark is
  gone: on a flat, still picture x264 drops the whole mark from a half-size copy's I-frame (a kadr-tiny
  sunset: 1.9 sigma), and the P-frames copy that.

Where it stands (bench/bench_watermark.py; the README has the table): on textured video (16 world clips,
steps 3.3 and 4.6 mostly) it is decoded after kadr's encode, H.264 at half the bitrate and a GIF every time,
after a 4% crop 14 times and a half-size copy 10 times (13 with matching), at 0.41 dB on average, 0.91 at most.
On kadr-tiny's flat pictures the 1 dB budget allows only steps 1.6-2.3, and a half-size copy (128x72,
re-encoded at crf 23) loses the mark: x264 keeps 0.55-0.7 of it in the I-frame of a textured copy and then
lets it fade over the P-frames (motion compensation drags the picture, and residuals under the quantiser's dead
zone are not sent), and on a flat picture drops it from the I-frame as well. Tried and measured against that at
the right alignment, none better: weighting the early frames (breaks the lattice), marking each frame on its own
and combining soft bits (0.59 of code bits right against 0.76), cells of 16x8 pixels with 2 per bit, 2 cells per
bit at a larger step, distortion-compensated QIM (alpha 0.6, 0.8), a constraint-length-9 code, a rate-1/2 code, a
16-bit check (fewer exact reads), and a mark moving with the picture (the lattice needs the host's cell means
exactly; motion estimated from a re-encoded copy is not that precise). What remains for the flat pictures is a
larger budget than 1 dB, larger frames, or a payload and check shorter than 44 bits.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from statistics import NormalDist
from typing import Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np

KEY = b"kadr-watermark-v4"
# Cells in the grid, whatever the aspect: 576 makes the fast tier's frames exactly 8x8-pixel cells (256x144 is
# 32x18, 192x192 24x24, 224x168 28x21; the high tier's 12x12). Cells on whole blocks of pixels keep their
# means through a half-size box downscale (each 2x2 box lies inside one cell) and carry the mark as the DC of
# the codec's transform blocks, the part an encoder keeps longest.
CELLS = 576
PAYLOAD_BITS = 32  # studio (16 bits) + job (16 bits)
# A keyed CRC of the payload, 12 bits: what the decoder reads from video without a mark passes it once in 4096.
# It is the whole decision (see READS): at a crop found by search the decoder's agreement with unmarked video
# (0.47-0.60 on 137 unmarked videos) is as high as with a marked copy after H.264 at half the bitrate, so no
# threshold on it separates them. 8 bits read 2 more of 24 copies after H.264 and 4 more after a half-size
# downscale at the right crop, but would report one unmarked video in 128; 16 bits lost 1 and 3 more of 8.
CHECK_BITS = 12
MESSAGE_BITS = PAYLOAD_BITS + CHECK_BITS
# The payload goes through a rate-1/3 convolutional code (constraint length 7, the NASA/CCSDS generators),
# read with a soft-decision Viterbi decoder: about 5 dB more coding gain than hard-decision Reed-Solomon
# on the same cells, which is what brings most copies back after H.264 at half the bitrate.
CONSTRAINT = 7
GENERATORS = (0o133, 0o145, 0o175)
TAIL_BITS = CONSTRAINT - 1
CELLS_PER_BIT = 4  # 2 with sign +1, 2 with -1
MOTHER_BITS = len(GENERATORS) * (MESSAGE_BITS + TAIL_BITS)  # 150 code bits
CODED_BITS = 112  # of them sent (38 punctured, spread evenly): 4 cells each fill the 28x16 inner cells of 16:9
BORDER = 0.04  # fraction of the grid on each side left unmarked (a crop may take it)
# Lattice steps of a bit's projection, in luma levels, sqrt(2) apart: each video's mark takes the largest whose
# cost the embedder predicts within COST_TARGET_DB (a textured picture hides a stronger mark: H.264 costs it more
# anyway), and detection tries each. On 6 kadr-tiny videos and 6 world clips one step for all cost, on average and
# at most, 0.53 / 1.19 dB at 2.3 and 1.38 / 2.55 dB at 4.6, and a half-size copy decoded 3 and 11 of the 12.
STEPS = (1.6, 2.3, 3.3, 4.6)
REFERENCE_STEP = 2.3  # the step a video's cost is measured at (the only step until v4's marks)
# The predicted cost a step may reach. The prediction (TRIAL_FRAMES encoded with and without the mark, the added
# error scaled with the step squared) came within +0.1 dB of the whole video's cost on those 12 videos, and was
# over it by up to 0.6 dB (the added error grows slower than the step squared).
COST_TARGET_DB = 0.8
# Trials of TRIAL_FRAMES at the start and the end of the first chunk, the worse counting: a clip that tilts from
# a field up to a foggy sky ends as a flat picture x264 keeps almost exactly, and its first 8 frames alone
# predicted 0.56 dB where step 4.6 cost 1.17. On 16 world clips and 6 kadr-tiny videos two trials of 6 frames
# kept every video within 0.90 dB (one of 8 frames: 1.17; three of 4: 1.23; three of 8: 0.90, but 2.5x the time).
TRIAL_FRAMES = 6
TRIALS = 2
CANON = 8  # detection pixels per cell (offsets are found to 1/8 of a cell)
COARSE = tuple(round(1.0 - 0.01 * i, 3) for i in range(11))  # visible fractions tried first: 1.00 ... 0.90
FINE_SPAN, FINE_STEP = 0.006, 0.002  # around a coarse crop (0.01 apart): +-0.006 covers the gap
BASINS = 8  # distinct coarse crops refined: at a weak mark the true crop can rank below ten wrong ones
EXACT_CANON = 32  # detection pixels per cell for the last refinement: offsets to 1/32 of a cell
EXACT_STEP = 0.001  # and crop sizes to 0.1%; the 1/8-cell search loses up to 0.2 of agreement at a true 4% crop
# Readings whose check is tried per video: the frame as it is (uncropped, or a scaled copy), the best crop at the
# original's pixel scale, then the best crop the search finds. An unmarked video is reported with probability about
# READS / 2^CHECK_BITS (1 in 1365).
READS = 3
# Cell sizes, in pixels, of kadr's own frames (the fast tier's 8, the high tier's 12): a crop that was not rescaled
# keeps them, so its crop is one of a few whole-pixel offsets of a known frame size.
PIXEL_CELLS = (8, 12)
MAX_FRAMES = 2000
# Identification against a list (the studio's own jobs): the chance, per video, that a video without the mark is
# matched to one of them. Each candidate's code word is scored at every reading's crop; for a video without the mark a
# score is near normal (measured: the highest of 10,000 candidates at 4 crops on 40 unmarked clips, 3.6-4.8 sigma,
# against 4.1 expected), so the threshold is that quantile, Bonferroni-corrected for candidates x crops x steps.
MATCH_FALSE_ALARM = 1e-3


@dataclass(frozen=True)
class WatermarkPayload:
    """What the mark carries: a 16-bit studio id and a 16-bit job id (hashes of the names)."""

    studio: int
    job: int

    def __post_init__(self) -> None:
        for name in ("studio", "job"):
            value = getattr(self, name)
            if not 0 <= value < 1 << 16:
                raise ValueError(f"watermark payload {name}: got {value}; allowed: 0 to 65535")

    @staticmethod
    def studio_of(studio_id: str) -> int:
        """The 16-bit studio field a studio's name gives (to tell a reading's studio from this one)."""
        return _hash16(studio_id)

    @classmethod
    def for_job(cls, studio_id: str, job_id: str) -> "WatermarkPayload":
        """The payload for a studio and a job, each named by any string (hashed to 16 bits)."""
        return cls(studio=_hash16(studio_id), job=_hash16(job_id))

    def to_bytes(self) -> bytes:
        return self.studio.to_bytes(2, "big") + self.job.to_bytes(2, "big")

    @classmethod
    def from_bytes(cls, data: bytes) -> "WatermarkPayload":
        return cls(studio=int.from_bytes(data[:2], "big"), job=int.from_bytes(data[2:4], "big"))

    def to_dict(self) -> dict[str, str]:
        return {"studio": f"{self.studio:04x}", "job": f"{self.job:04x}"}


def _hash16(text: str) -> int:
    return int.from_bytes(hashlib.blake2s(text.encode(), digest_size=2, key=KEY).digest(), "big")


@dataclass(frozen=True)
class WatermarkReading:
    """What detection found: the payload (None when there is no mark) and how sure it is."""

    found: bool
    payload: WatermarkPayload | None
    metric: float  # mean agreement of the decoded code word with the soft bits there (1: every bit on its lattice point)
    bits: np.ndarray  # the CODED_BITS code bits read there (hard decisions, before decoding), mark or not
    crop: tuple[float, float, float, float]  # visible fraction of width, of height; offset x, y (in cells)
    # True when the payload was not decoded but matched: one of the candidates given (the studio's jobs) scored
    # above the threshold (MATCH_FALSE_ALARM); ``metric`` is then that candidate's agreement.
    matched: bool = False

    def to_dict(self) -> dict[str, object]:
        """``kadr verify --json``'s object: found and payload, and ``"matched": true`` when the payload was matched."""
        out: dict[str, object] = {"found": self.found, "payload": self.payload.to_dict() if self.payload else None}
        if self.matched:
            out["matched"] = True
        return out


# ---- the grid and its bits ------------------------------------------------------------------


@dataclass(frozen=True)
class _Grid:
    cols: int
    rows: int
    cells: np.ndarray  # (CODED_BITS, CELLS_PER_BIT) flat cell indices (row * cols + col) of each bit
    signs: np.ndarray  # (CODED_BITS, CELLS_PER_BIT) of +-1
    phase: np.ndarray  # (CODED_BITS,) lattice offsets, as fractions of the step in [0, 1)

    @property
    def design(self) -> np.ndarray:
        """(cells, CODED_BITS): projection p = design.T @ features."""
        d = np.zeros((self.cols * self.rows, CODED_BITS), np.float32)
        for bit in range(CODED_BITS):
            d[self.cells[bit], bit] = self.signs[bit] / CELLS_PER_BIT
        return d


def grid_shape(width: int, height: int) -> tuple[int, int]:
    """(cols, rows) of roughly square cells for a frame; the same for any scaled copy of it."""
    cols = max(16, round(math.sqrt(CELLS * width / height)))
    rows = max(16, round(CELLS / cols))
    return cols, rows


@lru_cache(maxsize=32)
def _grid(cols: int, rows: int) -> _Grid:
    seed = int.from_bytes(hashlib.sha256(KEY + f"{cols}x{rows}".encode()).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    bc, br = math.ceil(BORDER * cols), math.ceil(BORDER * rows)
    inner = np.array([r * cols + c for r in range(br, rows - br) for c in range(bc, cols - bc)])
    needed = CODED_BITS * CELLS_PER_BIT
    if len(inner) < needed:
        raise ValueError(f"watermark grid {cols}x{rows}: {len(inner)} inner cells, need {needed}")
    chosen = rng.permutation(inner)[:needed].reshape(CODED_BITS, CELLS_PER_BIT)
    half = CELLS_PER_BIT // 2
    signs = np.stack([rng.permutation([1.0] * half + [-1.0] * half) for _ in range(CODED_BITS)]).astype(np.float32)
    # The same draws as v4's offsets of rng.uniform(0, 2.3): its marks are read back at step 2.3.
    phase = rng.uniform(0, 1, CODED_BITS).astype(np.float32)
    return _Grid(cols, rows, chosen, signs, phase)


def _box_resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w) float32 image resampled to ``size`` (width, height) as boxes: every output pixel is the exact
    mean of the area it covers, each input pixel a constant square. OpenCV's INTER_AREA is that when it
    shrinks; to grow, each pixel is first repeated into a k x k block (exact for boxes), then shrunk."""
    width, height = size
    k = max(1, math.ceil(max(width / image.shape[1], height / image.shape[0])))
    if k > 1:
        image = np.repeat(np.repeat(image, k, axis=0), k, axis=1)  # (h * k, w * k)
    if image.shape[:2] == (height, width):
        return image.astype(np.float32, copy=False)
    return cv2.resize(image.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)


def _cell_means(luma: np.ndarray, grid: _Grid) -> np.ndarray:
    """(rows * cols,) mean luma per cell of an uncropped frame-sized luma image."""
    canon = _box_resize(luma.astype(np.float32), (grid.cols * CANON, grid.rows * CANON))
    return canon.reshape(grid.rows, CANON, grid.cols, CANON).mean(axis=(1, 3)).reshape(-1)  # (rows*cols,)


def _project(features: np.ndarray, grid: _Grid) -> np.ndarray:
    """(CODED_BITS,) projections of (..., cells) features (any leading shape)."""
    picked = features[..., grid.cells]  # (..., CODED_BITS, CELLS_PER_BIT)
    return (picked * grid.signs).mean(axis=-1)


def _luma(frames: np.ndarray) -> np.ndarray:
    """(F, H, W) float32 luma of uint8 RGB frames (F, H, W, 3)."""
    f = frames.astype(np.float32)
    return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]


def _mean_luma(frames: np.ndarray) -> np.ndarray:
    """(H, W) float32 luma of the mean of uint8 RGB frames (F, H, W, 3): average first, it is linear."""
    mean = frames.mean(axis=0, dtype=np.float32)  # (H, W, 3)
    return 0.299 * mean[..., 0] + 0.587 * mean[..., 1] + 0.114 * mean[..., 2]


def _message_bits(payload: WatermarkPayload) -> np.ndarray:
    """(MESSAGE_BITS,) of 0/1, most significant first: the payload and its check."""
    data = payload.to_bytes()
    check = _check(data)
    check_bits = (check >> np.arange(CHECK_BITS - 1, -1, -1)) & 1  # (CHECK_BITS,) most significant first
    return np.concatenate([np.unpackbits(np.frombuffer(data, np.uint8)), check_bits.astype(np.uint8)])


def _check(data: bytes) -> int:
    return zlib.crc32(KEY + data) & ((1 << CHECK_BITS) - 1)


def _payload_of(message: np.ndarray) -> WatermarkPayload | None:
    """The payload a decoded message (MESSAGE_BITS,) of 0/1 carries, or None when its check does not match."""
    data = np.packbits(message[:PAYLOAD_BITS]).tobytes()
    check = int(message[PAYLOAD_BITS:] @ (1 << np.arange(CHECK_BITS - 1, -1, -1)))
    return WatermarkPayload.from_bytes(data) if check == _check(data) else None


@lru_cache(maxsize=1)
def _trellis() -> tuple[np.ndarray, np.ndarray]:
    """Next state and output bits of the convolutional code: (states, 2) and (states, 2, 3) of 0/1.

    The state holds the last CONSTRAINT - 1 input bits (newest in the top bit)."""
    states = 1 << (CONSTRAINT - 1)
    nxt = np.zeros((states, 2), np.int64)
    out = np.zeros((states, 2, len(GENERATORS)), np.float32)
    for s in range(states):
        for bit in (0, 1):
            register = (bit << (CONSTRAINT - 1)) | s  # newest input bit first
            nxt[s, bit] = register >> 1
            out[s, bit] = [bin(register & g).count("1") % 2 for g in GENERATORS]
    return nxt, out


@lru_cache(maxsize=1)
def _sent() -> np.ndarray:
    """(CODED_BITS,) positions of the mother code's bits that are sent."""
    dropped = np.round(np.linspace(0, MOTHER_BITS - 1, MOTHER_BITS - CODED_BITS + 2)[1:-1]).astype(np.int64)
    return np.setdiff1d(np.arange(MOTHER_BITS), dropped)


def _encode_bits(bits: np.ndarray) -> np.ndarray:
    """(CODED_BITS,) of 0/1: the convolutional code of message ``bits`` and a zero tail, punctured."""
    nxt, out = _trellis()
    state, coded = 0, []
    for bit in [*map(int, bits), *[0] * TAIL_BITS]:
        coded.append(out[state, bit])
        state = nxt[state, bit]
    return np.concatenate(coded)[_sent()].astype(np.float32)


def _codeword(payload: WatermarkPayload) -> np.ndarray:
    """(CODED_BITS,) of 0/1 carried by the frames."""
    return _encode_bits(_message_bits(payload))


@lru_cache(maxsize=1)
def _generator() -> np.ndarray:
    """(MESSAGE_BITS, CODED_BITS) of 0/1: the code is linear (it starts and ends in state 0), so a message's code
    word is message @ generator mod 2, the code words of the unit messages added up."""
    return np.stack([_encode_bits(unit) for unit in np.eye(MESSAGE_BITS, dtype=np.uint8)]).astype(np.int64)


def codeword_signs(payloads: Sequence[WatermarkPayload]) -> np.ndarray:
    """(N, CODED_BITS) of +-1 (+1 for a 0): the code words of many payloads at once."""
    if not payloads:
        return np.zeros((0, CODED_BITS), np.float32)
    messages = np.stack([_message_bits(p) for p in payloads]).astype(np.int64)  # (N, MESSAGE_BITS)
    return (1.0 - 2.0 * ((messages @ _generator()) % 2)).astype(np.float32)


@lru_cache(maxsize=1)
def _predecessors() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each state: its two predecessor states (states, 2), the input bit that leads into it (states,),
    and the code word sent on those two branches as an integer (states, 2), bit i for output i."""
    nxt, out = _trellis()
    states = len(nxt)
    pred = np.zeros((states, 2), np.int64)
    filled = np.zeros(states, np.int64)
    for s in range(states):
        for bit in (0, 1):
            t = nxt[s, bit]
            pred[t, filled[t]] = s
            filled[t] += 1
    into = np.arange(states) >> (CONSTRAINT - 2)  # the newest input bit is the state's top bit
    sent = out[pred, into[:, None]].astype(np.int64)  # (states, 2, outputs) of 0/1
    pattern = (sent * (1 << np.arange(len(GENERATORS)))).sum(axis=-1)  # (states, 2): which of the 2^outputs words
    return pred, into, pattern


def _viterbi(soft: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Soft-decision Viterbi decoding of code bits ``soft`` (N, CODED_BITS): +1 a sure 0, -1 a sure 1.

    Returns the best message of each row (N, MESSAGE_BITS) of 0/1 and its agreement with the row, the mean
    of code sign * soft over the code bits (N,): maximum likelihood over all 2^44 messages, the tail
    forcing the end state to 0."""
    soft = np.atleast_2d(np.asarray(soft, np.float32))  # (N, CODED_BITS)
    pred, into, pattern = _predecessors()
    words = np.arange(1 << len(GENERATORS))
    word_signs = (1.0 - 2.0 * ((words[:, None] >> np.arange(len(GENERATORS))) & 1)).astype(np.float32)  # (words, outputs)
    n, states, n_out = len(soft), len(pred), len(GENERATORS)
    steps = MESSAGE_BITS + TAIL_BITS
    mother = np.zeros((n, MOTHER_BITS), np.float32)
    mother[:, _sent()] = soft  # punctured bits are unknown (0)
    per_step = mother.reshape(n, steps, n_out)  # (N, steps, outputs)
    metric = np.full((n, states), -np.inf, np.float32)
    metric[:, 0] = 0.0
    choices = np.zeros((steps, n, states), np.uint8)  # which predecessor won, per step and state
    for t in range(steps):
        agreement = per_step[:, t] @ word_signs.T  # (N, words)
        total = metric[:, pred] + agreement[:, pattern]  # (N, states, 2)
        if t >= MESSAGE_BITS:  # the tail's inputs are zeros
            total[:, into == 1] = -np.inf
        choices[t] = total[:, :, 1] > total[:, :, 0]
        metric = np.max(total, axis=-1)
    rows = np.arange(n)
    state = np.zeros(n, np.int64)
    bits = np.zeros((n, steps), np.uint8)
    for t in range(steps - 1, -1, -1):
        bits[:, t] = into[state]
        state = pred[state, choices[t, rows, state]]
    return bits[:, :MESSAGE_BITS], metric[:, 0] / CODED_BITS


# ---- embedding --------------------------------------------------------------------------------


def _upsample(cells: np.ndarray, width: int, height: int) -> np.ndarray:
    """(H, W) float32 luma offset from per-cell values (rows, cols): constant over each cell.

    A constant is the least squared change for a cell's mean, and on the fast tier's 8x8-pixel cells it is
    nothing but the DC of the encoder's transform blocks. (Before the cells sat on whole pixels, at 7.1 pixels,
    an offset interpolated between cell centres did better: a constant's edges then fell inside blocks.)"""
    return cv2.resize(cells.astype(np.float32), (width, height), interpolation=cv2.INTER_NEAREST)


@lru_cache(maxsize=8)
def _dither(width: int, height: int) -> np.ndarray:
    """(H, W) ordered-dither thresholds in (0, 1) (an 8x8 Bayer matrix, tiled): floor(offset + threshold)
    rounds a constant offset so that an 8x8 block's mean keeps its fraction (to 1/64 of a level)."""
    bayer = np.zeros((1, 1))
    for _ in range(3):
        bayer = np.block([[4 * bayer, 4 * bayer + 2], [4 * bayer + 3, 4 * bayer + 1]])  # (8, 8) of 0..63
    tiles = np.tile((bayer + 0.5) / 64, (height // 8 + 1, width // 8 + 1))
    return tiles[:height, :width].astype(np.float32)


@lru_cache(maxsize=8)
def _response(width: int, height: int) -> tuple[_Grid, np.ndarray]:
    """The grid for a frame size, and (CODED_BITS, CODED_BITS): projections read per unit of each bit's
    smooth offset (the upsampling spreads a cell's offset a little onto its neighbours)."""
    grid = _grid(*grid_shape(width, height))
    design = grid.design * CELLS_PER_BIT  # (cells, K) of 0/+-1
    columns = []
    for bit in range(CODED_BITS):
        image = _upsample(design[:, bit].reshape(grid.rows, grid.cols), width, height)
        columns.append(_project(_cell_means(image, grid), grid))
    return grid, np.stack(columns, axis=1)  # (K, K)


class WatermarkEmbedder:
    """Marks a video chunk by chunk, so that the mean of all frames so far carries the payload.

    ``step``: the lattice step (one of STEPS); by default chosen from the first chunk (see choose_step)."""

    def __init__(self, payload: WatermarkPayload, width: int, height: int, step: float | None = None) -> None:
        if step is not None and step not in STEPS:
            raise ValueError(f"watermark step must be one of {', '.join(map(str, STEPS))}, got {step}")
        self.payload = payload
        self.step = step
        self.width, self.height = int(width), int(height)
        self._grid, self._response = _response(self.width, self.height)
        self._bits = _codeword(payload)
        self._marked_sum = np.zeros(CODED_BITS, np.float64)  # sum over marked frames of their projections
        self._host_sum = np.zeros(CODED_BITS, np.float64)  # the same before marking
        self._frames = 0

    def _offset(self, amounts: np.ndarray) -> np.ndarray:
        """(H, W) smooth luma offset for per-bit amounts (K,)."""
        grid = self._grid
        cells = (grid.design * CELLS_PER_BIT) @ amounts  # (cells,)
        return _upsample(cells.reshape(grid.rows, grid.cols), self.width, self.height)

    def _lattice_target(self, p: np.ndarray, step: float) -> np.ndarray:
        """Nearest point to each projection on its bit's lattice (step * (phase + bit / 2 + k))."""
        base = step * (self._grid.phase + self._bits / 2)
        return base + step * np.round((p - base) / step)

    def choose_step(self, frames: np.ndarray) -> float:
        """The largest of STEPS whose cost on ``frames`` (the first of a video) is predicted within COST_TARGET_DB.

        The cost is the fall of the encoded file's PSNR against the frames: TRIALS runs of TRIAL_FRAMES, spread
        over ``frames``, are encoded as kadr's MP4 (kadr.video.encode.h264_roundtrip) without and with the mark at
        REFERENCE_STEP, and the largest error the mark adds, relative to the encoder's own, is taken to grow with
        the step squared. A flat picture, which x264 keeps almost exactly, gets a small step; a textured one,
        whose encoding error hides more, a larger."""
        from kadr.video.encode import h264_roundtrip

        height, width = self.height - self.height % 2, self.width - self.width % 2
        if height < 16 or width < 16:
            return REFERENCE_STEP
        last = max(0, len(frames) - TRIAL_FRAMES)
        starts = sorted({round(i * last / max(1, TRIALS - 1)) for i in range(TRIALS)})
        clean = [np.ascontiguousarray(frames[s:s + TRIAL_FRAMES, :height, :width]) for s in starts]
        # Each trial a clip of its own, marked as one.
        marked = [np.ascontiguousarray(WatermarkEmbedder(self.payload, self.width, self.height, step=REFERENCE_STEP)
                                       .embed(frames[s:s + TRIAL_FRAMES])[:, :height, :width]) for s in starts]
        decoded = h264_roundtrip(clean + marked)
        worst = 0.0  # the largest error the mark adds at REFERENCE_STEP, relative to the encoder's own
        for sample, plain, carried in zip(clean, decoded[:len(clean)], decoded[len(clean):]):
            error = _mse(plain, sample)
            if error <= 0.0:  # the encoder keeps these frames exactly: any mark shows
                return STEPS[0]
            worst = max(worst, (_mse(carried, sample) - error) / error)
        fits = [s for s in STEPS if 10 * math.log10(1 + worst * (s / REFERENCE_STEP) ** 2) <= COST_TARGET_DB]
        return max(fits, default=STEPS[0])

    def embed(self, frames: np.ndarray) -> np.ndarray:
        """uint8 (F, H, W, 3) -> the same frames carrying the mark."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 (F, H, W, 3), got {frames.dtype} {frames.shape}")
        if len(frames) == 0:  # a loop may hold back a whole chunk
            return frames
        if frames.shape[1:3] != (self.height, self.width):
            raise ValueError(f"frame size {frames.shape[2]}x{frames.shape[1]} != embedder size {self.width}x{self.height}")
        if self.step is None:
            self.step = self.choose_step(frames)
        n = len(frames)
        total = self._frames + n
        host = _project(_cell_means(_mean_luma(frames), self._grid), self._grid)
        host_cumulative = (self._host_sum + n * host) / total
        # The clip's projections so far go to the lattice point nearest where the unmarked frames would put
        # them; what earlier chunks already moved counts.
        goal = self._lattice_target(host_cumulative, self.step)
        offset = np.zeros((self.height, self.width), np.float32)
        marked = frames
        for _ in range(2):  # a second pass makes up for rounding and clipping at 0 and 255
            chunk_p = _project(_cell_means(_mean_luma(marked), self._grid), self._grid)
            # The whole change lands on this chunk's frames: scale it up by total / n.
            needed = goal * total / n - (self._marked_sum + n * chunk_p) / n
            offset += self._offset(np.linalg.solve(self._response, needed))
            # Frames are integers, so rounding the sum is adding the rounded offset.
            # Ordered dither rounds a cell's constant offset so that the cell's mean keeps its fraction.
            marked = _add_clipped(frames, np.floor(offset + _dither(self.width, self.height)).astype(np.int16))
        self._marked_sum += n * _project(_cell_means(_mean_luma(marked), self._grid), self._grid)
        self._host_sum += n * host
        self._frames = total
        return marked


def _add_clipped(frames: np.ndarray, step: np.ndarray) -> np.ndarray:
    """uint8 frames (F, H, W, 3) plus an integer luma step (H, W) on every channel, clipped to 0..255: OpenCV's
    saturating add of the positive part and subtract of the negative part (exact, and 30x faster than numpy's
    int16 sum and clip on a 5 s clip)."""
    count, height, width, _ = frames.shape
    rows = frames.reshape(count * height, width * 3)  # (F*H, W*3): OpenCV takes 2-D arrays
    up = np.tile(np.repeat(np.clip(step, 0, 255).astype(np.uint8), 3, axis=1), (count, 1))  # (F*H, W*3)
    down = np.tile(np.repeat(np.clip(-step, 0, 255).astype(np.uint8), 3, axis=1), (count, 1))
    return cv2.subtract(cv2.add(rows, up), down).reshape(frames.shape)


def embed_watermark(frames: np.ndarray, payload: WatermarkPayload, step: float | None = None) -> np.ndarray:
    """Mark uint8 frames (F, H, W, 3) with ``payload``; for a stream, use one WatermarkEmbedder."""
    frames = np.asarray(frames)
    return WatermarkEmbedder(payload, frames.shape[2], frames.shape[1], step).embed(frames)


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))


# ---- detection --------------------------------------------------------------------------------


# The payloads to match against, or a function giving them: called only when nothing decodes (a studio's verify
# route lists its jobs only for a copy that needs it).
Candidates = Sequence[WatermarkPayload] | Callable[[], Sequence[WatermarkPayload]]


def detect_watermark(frames: np.ndarray | Iterable[np.ndarray],
                     candidates: Candidates = ()) -> WatermarkReading:
    """Read the mark from uint8 RGB frames (F, H, W, 3), or from an iterable of such chunks; when it cannot be
    decoded, match it against ``candidates`` (see detect_in_luma)."""
    total: np.ndarray | None = None
    count = 0
    chunks = [frames] if isinstance(frames, np.ndarray) else frames
    for chunk in chunks:
        chunk = np.asarray(chunk)
        if chunk.ndim == 3:
            chunk = chunk[None]
        luma = _luma(chunk).sum(axis=0, dtype=np.float64)
        total = luma if total is None else total + luma
        count += len(chunk)
    if total is None or count == 0:
        raise ValueError("detect_watermark: no frames")
    return detect_in_luma((total / count).astype(np.float32), candidates)


def detect_in_file(path: str | Path, candidates: Candidates = ()) -> WatermarkReading:
    """Read the mark from a video (MP4, WebM, GIF, ...) or a picture (PNG, JPEG) on disk."""
    return detect_watermark(_decoded_chunks(Path(path)), candidates)


def _decoded_chunks(path: Path, chunk: int = 32) -> Iterator[np.ndarray]:
    import av

    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise ValueError(f"{path}: not a video or picture PyAV can read ({exc})") from exc
    with container:
        buf: list[np.ndarray] = []
        seen = 0
        for frame in container.decode(video=0):
            buf.append(frame.to_ndarray(format="rgb24"))
            seen += 1
            if len(buf) == chunk:
                yield np.stack(buf)
                buf = []
            if seen >= MAX_FRAMES:
                break
        if buf:
            yield np.stack(buf)


@dataclass(frozen=True)
class _Candidate:
    metric: float  # the decoder's agreement at this crop
    vis_w: float
    vis_h: float
    ox: int  # offset of the visible part, in detection pixels (``canon`` per cell)
    oy: int
    canon: int
    projections: np.ndarray
    grid: _Grid
    step: float  # the lattice step read best there


def _best_offset(mean_luma: np.ndarray, vis_w: float, vis_h: float, canon: int = CANON,
                 near: tuple[float, float, int] | None = None) -> _Candidate | None:
    """For one crop size: the offset at which the decoder agrees best with what it reads.

    ``canon``: detection pixels per cell (the offset's resolution); ``near``: (x, y, radius) keeps the offsets
    within ``radius`` detection pixels of (x, y), in cells, for a refinement around an earlier answer."""
    height, width = mean_luma.shape
    try:
        grid = _grid(*grid_shape(round(width / vis_w), round(height / vis_h)))
    except ValueError:  # a frame too narrow for the grid this crop would imply
        return None
    cw, ch = grid.cols * canon, grid.rows * canon
    pw, ph = round(cw * vis_w), round(ch * vis_h)
    patch = _box_resize(mean_luma, (pw, ph))
    integral = cv2.integral(patch.astype(np.float64))  # (ph + 1, pw + 1)
    flat = grid.cells.reshape(-1)
    rows, cols = flat // grid.cols, flat % grid.cols
    # Cell (r, c) of the original starts at (c * canon - ox, r * canon - oy) in the patch.
    ox = np.arange(0, cw - pw + 1)
    oy = np.arange(0, ch - ph + 1)
    if near is not None:
        cx, cy, radius = near[0] * canon, near[1] * canon, near[2]
        ox = ox[np.abs(ox - cx) <= radius]
        oy = oy[np.abs(oy - cy) <= radius]
        if not len(ox) or not len(oy):
            return None
    x0 = cols[None, None, :] * canon - ox[None, :, None]  # (1, X, n)
    y0 = rows[None, None, :] * canon - oy[:, None, None]  # (Y, 1, n)
    x0, y0 = np.broadcast_arrays(x0, y0)  # (Y, X, n)
    inside = (x0 >= 0).all(-1) & (y0 >= 0).all(-1) & (x0 + canon <= pw).all(-1) & (y0 + canon <= ph).all(-1)  # (Y, X)
    if not inside.any():
        return None
    x0c, y0c = np.clip(x0, 0, pw - canon), np.clip(y0, 0, ph - canon)
    sums = (integral[y0c + canon, x0c + canon] - integral[y0c, x0c + canon]
            - integral[y0c + canon, x0c] + integral[y0c, x0c])  # (Y, X, n)
    means = (sums / (canon * canon)).reshape(len(oy), len(ox), CODED_BITS, CELLS_PER_BIT)
    p = (means * grid.signs).mean(axis=-1)  # (Y, X, K)
    soft = np.stack([_soft_bits(p[inside], grid, step) for step in STEPS])  # (steps, candidates, K)
    _, metrics = _viterbi(soft.reshape(-1, CODED_BITS))  # (steps * candidates,)
    top = int(np.argmax(metrics))
    best_step, best = divmod(top, soft.shape[1])
    iy, ix = np.argwhere(inside)[best]
    return _Candidate(float(metrics[top]), vis_w, vis_h, int(ox[ix]), int(oy[iy]), canon, p[iy, ix], grid, STEPS[best_step])


def _refined(mean_luma: np.ndarray, start: _Candidate, span: float, step: float, canon: int = CANON,
             radius: int | None = None) -> _Candidate:
    """The best crop within ``span`` of ``start``'s visible fractions, ``step`` apart (and, with ``radius``,
    offsets within that many detection pixels of its offset)."""
    found = [start]
    for dw in np.arange(-span, span + step / 2, step):
        for dh in np.arange(-span, span + step / 2, step):
            w, h = min(1.0, start.vis_w + dw), min(1.0, start.vis_h + dh)
            near = None if radius is None else (start.ox / start.canon, start.oy / start.canon, radius)
            if (c := _best_offset(mean_luma, float(w), float(h), canon, near)) is not None:
                found.append(c)
    return max(found, key=lambda c: c.metric)


def _distinct(candidates: list[_Candidate], count: int) -> list[_Candidate]:
    """The first ``count`` candidates (best first) whose crops are not neighbours of a better one: the
    coarse crops around one answer all score alike, and refining them all would look at one place."""
    chosen: list[_Candidate] = []
    for c in candidates:
        if all(abs(c.vis_w - d.vis_w) > 0.015 or abs(c.vis_h - d.vis_h) > 0.015
               or abs(c.ox / c.canon - d.ox / d.canon) > 0.5 or abs(c.oy / c.canon - d.oy / d.canon) > 0.5 for d in chosen):
            chosen.append(c)
            if len(chosen) == count:
                break
    return chosen


def _pixel_crop(mean_luma: np.ndarray) -> _Candidate | None:
    """The best crop of a copy cut from one of kadr's frames without rescaling: the frame was a grid of
    PIXEL_CELLS-pixel cells (one per aspect kadr makes) a little larger than the copy, which sits at whole-pixel
    offsets. Exact where the search's continuous crop sizes only come near (its best refinement still lost a
    third of the 4% crops that decode at the right offset)."""
    from kadr.request import ASPECTS

    height, width = mean_luma.shape
    found = []
    for cell in PIXEL_CELLS:
        for a, b in ASPECTS.values():
            cols, rows = grid_shape(1000 * a, 1000 * b)
            frame_w, frame_h = cols * cell, rows * cell
            if width <= frame_w <= width / COARSE[-1] and height <= frame_h <= height / COARSE[-1]:
                # canon = cell: one detection pixel per pixel of the original, the copy used as it is.
                if (c := _best_offset(mean_luma, width / frame_w, height / frame_h, canon=cell)) is not None:
                    found.append(c)
    return max(found, key=lambda c: c.metric, default=None)


def _readings(mean_luma: np.ndarray) -> Iterator[tuple[_Candidate, bool]]:
    """The crops detection reads, in order, each with whether its decoded payload counts (READS of them do; the
    runner-up of the search is only scored against candidates)."""
    # Most copies are not cropped (a re-encode, a scaled copy, a GIF): read the whole frame first. Searching
    # lets wrong crops compete, and a weak mark loses to them (H.264 at half the bitrate: 9 of 16 world
    # clips read through the search alone, 18 of 24 at the right crop).
    whole = _best_offset(mean_luma, 1.0, 1.0)
    if whole is not None:
        yield whole, True
    if (pixel := _pixel_crop(mean_luma)) is not None:
        yield pixel, True
    # The uncropped candidate read above is one of the coarse crops: reused, not searched again.
    coarse = sorted([c for w in COARSE for h in COARSE if (w, h) != (1.0, 1.0) and (c := _best_offset(mean_luma, w, h))]
                    + ([whole] if whole is not None else []), key=lambda c: -c.metric)
    # Refine the crop size around the best few coarse ones (at the frame's edges a 1% error is 0.15 cell),
    # then to 0.1% and 1/32 of a cell around the best two of those.
    fine = sorted((_refined(mean_luma, c, FINE_SPAN, FINE_STEP) for c in _distinct(coarse, BASINS)), key=lambda c: -c.metric)
    exact = sorted((_refined(mean_luma, c, 0.003, EXACT_STEP, EXACT_CANON, radius=EXACT_CANON // CANON + 1) for c in fine[:2]),
                   key=lambda c: -c.metric)
    for rank, c in enumerate(exact):
        yield c, rank == 0


def detect_in_luma(mean_luma: np.ndarray, candidates: Candidates = ()) -> WatermarkReading:
    """Read the payload from a clip's mean luma (H, W): as the frame is, else at the crop a search finds.

    When no reading decodes and ``candidates`` are given (the payloads of the jobs a studio made), each candidate's
    code word is scored against the soft bits of every crop read, and the best is reported when it clears a
    threshold set by MATCH_FALSE_ALARM. Knowing the few payloads that can be there needs far less of the mark than
    decoding one of 2^44 messages: after a half-size copy most clips are matched among 10,000 candidates while few
    decode (bench/bench_watermark.py)."""
    mean_luma = mean_luma.astype(np.float32)
    read: list[_Candidate] = []
    last: WatermarkReading | None = None
    for candidate, counts in _readings(mean_luma):
        read.append(candidate)
        if counts:
            last = _decode(candidate)
            if last.found:
                return last
    if last is None:
        raise ValueError(f"detect_watermark: a frame of {mean_luma.shape[1]}x{mean_luma.shape[0]} is too small to carry the mark")
    return _match(read, list(candidates() if callable(candidates) else candidates)) or last


def match_threshold(candidates: int, crops: int) -> float:
    """The score (in standard deviations) a candidate needs so that a video without the mark is matched to any of
    ``candidates`` at any of ``crops`` with probability MATCH_FALSE_ALARM."""
    return NormalDist().inv_cdf(1.0 - MATCH_FALSE_ALARM / max(1, candidates * crops))


def _match(read: list[_Candidate], candidates: list[WatermarkPayload]) -> WatermarkReading | None:
    """The candidate whose code word agrees best with the soft bits of one of the crops read, above the threshold."""
    if not candidates or not read:
        return None
    signs = codeword_signs(candidates)  # (N, K)
    # Every step at every crop is a test: a faint mark may read best at another step than its own.
    tests = [(crop, step) for crop in read for step in STEPS]
    soft = np.stack([_soft_bits(crop.projections, crop.grid, step) for crop, step in tests])  # (tests, K)
    # For soft bits unrelated to a code word, sum(sign * soft) has mean 0 and variance sum(soft^2).
    scores = (soft @ signs.T) / np.maximum(np.sqrt(np.sum(soft ** 2, axis=1, keepdims=True)), 1e-9)  # (tests, N) in sigma
    t, i = np.unravel_index(int(np.argmax(scores)), scores.shape)
    if scores[t, i] < match_threshold(len(candidates), len(tests)):
        return None
    agreement = float(np.mean(signs[i] * soft[t]))
    return WatermarkReading(found=True, payload=candidates[i], metric=round(agreement, 4), bits=(soft[t] < 0).astype(np.uint8),
                            crop=_crop_of(tests[t][0]), matched=True)


def _soft_bits(projections: np.ndarray, grid: _Grid, step: float) -> np.ndarray:
    """(..., K) in [-1, 1]: cos of each projection's phase on its lattice at ``step`` (+1 on bit 0's, -1 on bit 1's)."""
    return np.cos(2 * np.pi * (projections / step - grid.phase))


def _decode(candidate: _Candidate) -> WatermarkReading:
    """The payload whose code word agrees best with the soft bits, kept when its check matches."""
    soft = _soft_bits(candidate.projections, candidate.grid, candidate.step)
    bits, metric = _viterbi(soft)
    agreement = float(metric[0])
    payload = _payload_of(bits[0])
    return WatermarkReading(found=payload is not None, payload=payload, metric=round(agreement, 4),
                            bits=(soft < 0).astype(np.uint8), crop=_crop_of(candidate))


def _crop_of(candidate: _Candidate) -> tuple[float, float, float, float]:
    return (round(candidate.vis_w, 4), round(candidate.vis_h, 4),
            round(candidate.ox / candidate.canon, 3), round(candidate.oy / candidate.canon, 3))
