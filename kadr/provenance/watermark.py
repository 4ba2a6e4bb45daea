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
which the picture does not interfere with:

- The frame is a grid of about 576 cells in normalised coordinates (32x18 for 16:9), so a
  downscaled copy maps onto the same grid. Cells near the edges carry nothing, so a crop of up to
  5% a side keeps every marked cell. 64 coded bits (the 4-byte payload plus 4 Reed-Solomon bytes)
  each own 6 scattered cells with balanced signs (3 +, 3 -: a change of overall brightness cancels).
- A bit is the projection p = mean(sign * cell mean luma) over its cells, quantised onto one of two
  interleaved lattices (step STEP, a secret dither per bit): embedding moves p to the nearest point
  of the bit's lattice, which costs at most STEP/2 per cell whatever the picture.
- The same smooth luma offset goes on every frame of a chunk; chunks are marked causally so the
  mean of all frames so far sits on the lattice (streams are marked as they come).
- Detection averages the luma of every frame, searches the crop (visible fraction of width and
  height, then the offset), scores each by how close all 64 projections lie to the lattice union,
  reads the bits at the best one and decodes the Reed-Solomon word. A payload is reported only when
  the score clears SCORE_THRESHOLD and the code word decodes.

Where it stands (bench/bench_watermark.py; the README has the table): read back after kadr's encode and
a GIF, often after a 4% crop, not after H.264 at half the bitrate nor a half-size copy. Measured at the
right alignment, those two leave a projection's move only 0.5-0.6 of itself (0.86 after kadr's own crf
20): x264's dead zone drops small residuals, and at these sizes one I-frame carries a static scene, so
averaging frames does not average the damage away. Moving each projection past its lattice point to
make up for it (x1.4, at the same cost on world clips) cut the bit errors at the right alignment from
15% to 7.5% after a half-size copy (6% to 5% after H.264), too few to decode 64 bits reliably; and the
blind crop search still picks a wrong crop (attacked copies score 0.26-0.40, unmarked ones up to 0.41), and
at 256x144 the 1 dB budget leaves too little: the mark already costs about 1.1 dB on kadr-tiny's
current fast tier. Larger frames (more macroblocks per bit) or a mark that moves with the picture are
the ways on.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

KEY = b"kadr-watermark-v2"
CELLS = 576  # cells in the grid, whatever the aspect
PAYLOAD_BYTES = 4  # studio (2 bytes) + job (2 bytes)
PARITY_BYTES = 4  # Reed-Solomon: corrects 2 wrong bytes
CODED_BITS = 8 * (PAYLOAD_BYTES + PARITY_BYTES)
CELLS_PER_BIT = 6  # 3 with sign +1, 3 with -1
BORDER = 0.05  # fraction of the grid on each side left unmarked (a crop may take it)
STEP = 3.0  # lattice step of a bit's projection, in luma levels (cost about STEP/sqrt(12) per cell)
CANON = 8  # detection pixels per cell (offsets are found to 1/8 of a cell)
COARSE = tuple(round(1.0 - 0.01 * i, 3) for i in range(11))  # visible fractions tried first: 1.00 ... 0.90
FINE_STEP = 0.002
# Mean lattice agreement at the best crop (1: all on the lattice). The crop search lifts unmarked video to
# 0.16-0.39 (137 clips of five kinds) and attacked marked copies score 0.13-0.45 (bench/bench_watermark.py): the score alone does not
# tell them apart. What does is the Reed-Solomon word: a payload is reported only when it decodes too, which
# a random word does with probability about 5e-4 (see _decode).
SCORE_THRESHOLD = 0.4
MAX_FRAMES = 2000


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
    score: float  # mean lattice agreement at the best crop
    bits: np.ndarray  # the 64 coded bits read at the best crop (before error correction), mark or not
    crop: tuple[float, float, int, int]  # visible fraction of width, of height; offset x, y (detection pixels)

    def to_dict(self) -> dict[str, object]:
        return {"found": self.found, "payload": self.payload.to_dict() if self.payload else None}


# ---- the grid and its bits ------------------------------------------------------------------


@dataclass(frozen=True)
class _Grid:
    cols: int
    rows: int
    cells: np.ndarray  # (CODED_BITS, CELLS_PER_BIT) flat cell indices (row * cols + col) of each bit
    signs: np.ndarray  # (CODED_BITS, CELLS_PER_BIT) of +-1
    dither: np.ndarray  # (CODED_BITS,) lattice offsets in [0, STEP)

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
    dither = rng.uniform(0, STEP, CODED_BITS).astype(np.float32)
    return _Grid(cols, rows, chosen, signs, dither)


def _cell_means(luma: np.ndarray, grid: _Grid) -> np.ndarray:
    """(rows * cols,) mean luma per cell of an uncropped frame-sized luma image."""
    canon = cv2.resize(luma.astype(np.float32), (grid.cols * CANON, grid.rows * CANON), interpolation=cv2.INTER_AREA)
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


def _codeword(payload: WatermarkPayload) -> np.ndarray:
    """(CODED_BITS,) of 0/1: the payload and its Reed-Solomon parity, bit by bit."""
    from reedsolo import RSCodec

    coded = bytes(RSCodec(PARITY_BYTES).encode(payload.to_bytes()))
    return np.unpackbits(np.frombuffer(coded, np.uint8)).astype(np.float32)


# ---- embedding --------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _response(width: int, height: int) -> tuple[_Grid, np.ndarray]:
    """The grid for a frame size, and (CODED_BITS, CODED_BITS): projections read per unit of each bit's
    smooth offset (the upsampling spreads a cell's offset a little onto its neighbours)."""
    grid = _grid(*grid_shape(width, height))
    design = grid.design * CELLS_PER_BIT  # (cells, K) of 0/+-1
    columns = []
    for bit in range(CODED_BITS):
        image = cv2.resize(design[:, bit].reshape(grid.rows, grid.cols), (width, height), interpolation=cv2.INTER_LINEAR)
        columns.append(_project(_cell_means(image, grid), grid))
    return grid, np.stack(columns, axis=1)  # (K, K)


class WatermarkEmbedder:
    """Marks a video chunk by chunk, so that the mean of all frames so far carries the payload."""

    def __init__(self, payload: WatermarkPayload, width: int, height: int) -> None:
        self.payload = payload
        self.width, self.height = int(width), int(height)
        self._grid, self._response = _response(self.width, self.height)
        self._bits = _codeword(payload)
        self._marked_sum = np.zeros(CODED_BITS, np.float64)  # sum over marked frames of their projections
        self._frames = 0

    def _offset(self, amounts: np.ndarray) -> np.ndarray:
        """(H, W) smooth luma offset for per-bit amounts (K,)."""
        grid = self._grid
        cells = (grid.design * CELLS_PER_BIT) @ amounts  # (cells,)
        return cv2.resize(cells.reshape(grid.rows, grid.cols).astype(np.float32), (self.width, self.height),
                          interpolation=cv2.INTER_LINEAR)

    def _lattice_target(self, p: np.ndarray) -> np.ndarray:
        """Nearest point to each projection on its bit's lattice (dither + bit * STEP/2 + STEP * k)."""
        base = self._grid.dither + self._bits * (STEP / 2)
        return base + STEP * np.round((p - base) / STEP)

    def embed(self, frames: np.ndarray) -> np.ndarray:
        """uint8 (F, H, W, 3) -> the same frames carrying the mark."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 (F, H, W, 3), got {frames.dtype} {frames.shape}")
        if len(frames) == 0:  # a loop may hold back a whole chunk
            return frames
        if frames.shape[1:3] != (self.height, self.width):
            raise ValueError(f"frame size {frames.shape[2]}x{frames.shape[1]} != embedder size {self.width}x{self.height}")
        n = len(frames)
        total = self._frames + n
        offset = np.zeros((self.height, self.width), np.float32)
        marked = frames
        for _ in range(2):  # a second pass makes up for rounding and clipping at 0 and 255
            chunk_p = _project(_cell_means(_mean_luma(marked), self._grid), self._grid)
            cumulative = (self._marked_sum + n * chunk_p) / total
            # The whole change lands on this chunk's frames: scale it up by total / n.
            needed = (self._lattice_target(cumulative) - cumulative) * total / n
            offset += self._offset(np.linalg.solve(self._response, needed))
            # Frames are integers, so rounding the sum is adding the rounded offset: int16 is exact and fast.
            # The offset varies smoothly across a cell, so the cell's mean keeps its fractional part.
            step = np.rint(offset).astype(np.int16)[None, :, :, None]
            marked = np.clip(frames.astype(np.int16) + step, 0, 255).astype(np.uint8)
        self._marked_sum += n * _project(_cell_means(_mean_luma(marked), self._grid), self._grid)
        self._frames = total
        return marked


def embed_watermark(frames: np.ndarray, payload: WatermarkPayload) -> np.ndarray:
    """Mark uint8 frames (F, H, W, 3) with ``payload``; for a stream, use one WatermarkEmbedder."""
    frames = np.asarray(frames)
    return WatermarkEmbedder(payload, frames.shape[2], frames.shape[1]).embed(frames)


# ---- detection --------------------------------------------------------------------------------


def detect_watermark(frames: np.ndarray | Iterable[np.ndarray]) -> WatermarkReading:
    """Read the mark from uint8 RGB frames (F, H, W, 3), or from an iterable of such chunks."""
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
    return detect_in_luma((total / count).astype(np.float32))


def detect_in_file(path: str | Path) -> WatermarkReading:
    """Read the mark from a video (MP4, WebM, GIF, ...) or a picture (PNG, JPEG) on disk."""
    return detect_watermark(_decoded_chunks(Path(path)))


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
    score: float
    vis_w: float
    vis_h: float
    ox: int
    oy: int
    projections: np.ndarray
    grid: _Grid


def _score(p: np.ndarray, grid: _Grid) -> np.ndarray:
    """How close projections (..., K) lie to the union of both bits' lattices (spacing STEP/2): 1 on it."""
    return np.cos(2 * np.pi * (p - grid.dither) / (STEP / 2)).mean(axis=-1)


def _best_offset(mean_luma: np.ndarray, vis_w: float, vis_h: float) -> _Candidate | None:
    """For one crop size: the offset whose projections lie closest to the lattice."""
    height, width = mean_luma.shape
    grid = _grid(*grid_shape(round(width / vis_w), round(height / vis_h)))
    cw, ch = grid.cols * CANON, grid.rows * CANON
    pw, ph = round(cw * vis_w), round(ch * vis_h)
    patch = cv2.resize(mean_luma, (pw, ph), interpolation=cv2.INTER_AREA)
    integral = cv2.integral(patch.astype(np.float64))  # (ph + 1, pw + 1)
    flat = grid.cells.reshape(-1)
    rows, cols = flat // grid.cols, flat % grid.cols
    # Cell (r, c) of the original starts at (c * CANON - ox, r * CANON - oy) in the patch.
    ox = np.arange(0, cw - pw + 1)
    oy = np.arange(0, ch - ph + 1)
    x0 = cols[None, None, :] * CANON - ox[None, :, None]  # (1, X, n)
    y0 = rows[None, None, :] * CANON - oy[:, None, None]  # (Y, 1, n)
    x0, y0 = np.broadcast_arrays(x0, y0)  # (Y, X, n)
    inside = (x0 >= 0).all(-1) & (y0 >= 0).all(-1) & (x0 + CANON <= pw).all(-1) & (y0 + CANON <= ph).all(-1)  # (Y, X)
    if not inside.any():
        return None
    x0c, y0c = np.clip(x0, 0, pw - CANON), np.clip(y0, 0, ph - CANON)
    sums = (integral[y0c + CANON, x0c + CANON] - integral[y0c, x0c + CANON]
            - integral[y0c + CANON, x0c] + integral[y0c, x0c])  # (Y, X, n)
    means = (sums / (CANON * CANON)).reshape(len(oy), len(ox), CODED_BITS, CELLS_PER_BIT)
    p = (means * grid.signs).mean(axis=-1)  # (Y, X, K)
    scores = np.where(inside, _score(p, grid), -np.inf)
    iy, ix = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return _Candidate(float(scores[iy, ix]), vis_w, vis_h, int(ox[ix]), int(oy[iy]), p[iy, ix], grid)


def detect_in_luma(mean_luma: np.ndarray) -> WatermarkReading:
    """Search the crop and read the payload from a clip's mean luma (H, W)."""
    mean_luma = mean_luma.astype(np.float32)
    candidates = [c for w in COARSE for h in COARSE if (c := _best_offset(mean_luma, w, h)) is not None]
    best = max(candidates, key=lambda c: c.score)
    # Refine the crop size around the best coarse one: at the frame's edges a 1% error is 0.15 cell.
    fine = [best]
    for dw in np.arange(-0.01, 0.0101, FINE_STEP):
        for dh in np.arange(-0.01, 0.0101, FINE_STEP):
            w, h = min(1.0, best.vis_w + dw), min(1.0, best.vis_h + dh)
            if (c := _best_offset(mean_luma, float(w), float(h))) is not None:
                fine.append(c)
    best = max(fine, key=lambda c: c.score)
    payload, bits = _decode(best)
    if best.score < SCORE_THRESHOLD:  # a code word noise happened to decode is not a mark
        payload = None
    return WatermarkReading(found=payload is not None, payload=payload, score=round(best.score, 4), bits=bits,
                            crop=(round(best.vis_w, 4), round(best.vis_h, 4), best.ox, best.oy))


def _decode(candidate: _Candidate) -> tuple[WatermarkPayload | None, np.ndarray]:
    """Bits from the lattice each projection is nearest to, then the Reed-Solomon word.

    If that fails, the byte whose bits sit nearest the decision boundary is tried as an erasure (then
    1 more error is corrected). Never more: with 4 erasures RS(8, 4) "decodes" any word at all, and
    each erasure raises the chance that noise decodes (1e-4 a clip with one, 4e-4 with none).
    """
    from reedsolo import ReedSolomonError, RSCodec

    phase = ((candidate.projections - candidate.grid.dither) / STEP) % 1.0  # 0: bit 0's lattice, 0.5: bit 1's
    bits = ((phase > 0.25) & (phase < 0.75)).astype(np.uint8)
    # Certainty of a bit: distance of its phase from the boundaries at 0.25 and 0.75 (0 to 0.25).
    certainty = np.abs(np.abs(phase - 0.5) - 0.25)
    byte_certainty = certainty.reshape(-1, 8).min(axis=1)
    order = [int(i) for i in np.argsort(byte_certainty)]
    word = np.packbits(bits).tobytes()
    codec = RSCodec(PARITY_BYTES)
    for erasures in ([], order[:1]):
        try:
            decoded, _, _ = codec.decode(word, erase_pos=erasures or None)
        except ReedSolomonError:
            continue
        return WatermarkPayload.from_bytes(bytes(decoded)), bits
    return None, bits
