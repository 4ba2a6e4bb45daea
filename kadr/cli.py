"""The command line: ``kadr generate``, ``kadr extend``, ``kadr remix``, ``kadr models``, ``kadr prompt``, ``kadr check``, ``kadr serve``, ``kadr users``.

Bad input exits non-zero with one line naming the problem; progress goes to stderr; results to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any, Sequence

from kadr.camera import CAMERA_MOTIONS
from kadr.errors import GenerationCancelled, KadrError
from kadr.request import ASPECTS, FORMATS, STYLES


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except KadrError as exc:
        print(f"kadr: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kadr: interrupted", file=sys.stderr)
        return 130


class _CommandParser(argparse.ArgumentParser):
    """A sub-command's parser; ``intermixed`` ones take positionals after options too
    (``kadr extend VIDEO --seconds 5 "prompt"``), which plain argparse refuses for an optional positional."""

    def __init__(self, *args: Any, intermixed: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.intermixed = intermixed
        self._parsing = False

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:  # type: ignore[override]
        if not self.intermixed or self._parsing:
            return super().parse_known_args(args, namespace)
        self._parsing = True  # parse_known_intermixed_args calls back into parse_known_args
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._parsing = False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kadr", description="Self-hostable video generation: text or image to video.")
    from kadr import __version__

    parser.add_argument("--version", action="version", version=f"kadr {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_CommandParser)

    gen = sub.add_parser("generate", help="make a video from a prompt (and optionally an image)")
    gen.add_argument("prompt", nargs="?", default="",
                     help='what the video shows, e.g. "Закат над морем, волны, панорама слева направо" '
                          '(with --shots: what every shot shares, e.g. a character)')
    gen.add_argument("-i", "--image", help="first frame for image-to-video (PNG, JPEG, WebP)")
    gen.add_argument("--last-image", help="last frame: the clip ends on this picture (needs --image, the first)")
    gen.add_argument("-o", "--output", help="output file (default: ./kadr-outputs/...)")
    gen.add_argument("--duration", type=float, help="seconds, 1 to 30 (default: the prompt's hint, else 5)")
    gen.add_argument("--aspect", help="one of " + ", ".join(ASPECTS) + " (default: the prompt's hint, e.g. 'для сторис', else 16:9)")
    gen.add_argument("--resolution", help="a model preset (e.g. 480p) or WIDTHxHEIGHT")
    gen.add_argument("--fps", type=int, help="frames per second (default: the model's)")
    gen.add_argument("--style", help="one of " + ", ".join(STYLES))
    gen.add_argument("--camera", help="one of " + ", ".join(CAMERA_MOTIONS))
    gen.add_argument("--quality", default="fast", help="fast or high (default fast)")
    gen.add_argument("--model", help="a model from `kadr models` (default: the quality tier's)")
    gen.add_argument("--seed", type=int, help="same seed, same video")
    gen.add_argument("--negative", help="what to avoid")
    gen.add_argument("--format", default=None, help="one of " + ", ".join(FORMATS) + " (default: from --output, else mp4)")
    gen.add_argument("--loop", action="store_true", help="make the end flow into the start")
    gen.add_argument("--upscale", help="off, 2x, 4x or 720p: Real-ESRGAN on the output (default: the tier's, off; "
                                       "on 2 CPU cores about a minute for 5 s at 720p)")
    gen.add_argument("--smooth", action=argparse.BooleanOptionalAction, default=None,
                     help="smooth motion: in-between frames to twice the frame rate (default: the tier's, off)")
    gen.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: the best available)")
    gen.add_argument("--cache", default="auto", help="step cache: auto (the tier's), off, first-block, taylorseer, mag")
    gen.add_argument("--lora", action="append", default=[], metavar="PATH_OR_HUB_ID[:SCALE]",
                     help="a LoRA adapter for this video (repeat for several)")
    gen.add_argument("--attention", help="attention backend: auto or one installed here (native, flex, flash, sage ...)")
    gen.add_argument("--compile", action="store_true", help="torch.compile the model's blocks (the first video warms up)")
    gen.add_argument("--shots", metavar="FILE",
                     help="a video of several shots: a JSON list of {prompt, duration, camera, style}, or a text file, "
                          "one shot a line: `5s | pan-left | Пляж на закате` (README: Shots)")
    gen.add_argument("--transition", default="cut", help="how --shots are joined: cut or crossfade (default cut)")
    gen.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(func=_cmd_generate)

    extend = sub.add_parser("extend", help="continue a video by some seconds (the result is the whole, longer video)",
                            intermixed=True)
    extend.add_argument("video", help="the video to continue (kadr's or any other)")
    extend.add_argument("prompt", nargs="?", default="", help="what happens next (default: the video's own prompt)")
    extend.add_argument("--seconds", type=float, required=True, help="seconds to add; the whole video stays within 30 s")
    _add_edit_options(extend)
    extend.set_defaults(func=_cmd_extend)

    remix = sub.add_parser("remix", help="remake a video with a changed prompt, keeping its layout and motion",
                           intermixed=True)
    remix.add_argument("video", help="the video to remake")
    remix.add_argument("prompt", help='what it should show now, e.g. "the same street at night"')
    remix.add_argument("--strength", type=float, help="how much changes: 0.05 (almost nothing) to 1 (all new); default 0.6")
    _add_edit_options(remix)
    remix.set_defaults(func=_cmd_remix)

    models = sub.add_parser("models", help="list models; `kadr models pull NAME` downloads one")
    models.add_argument("--json", action="store_true")
    models.set_defaults(func=_cmd_models)
    models_sub = models.add_subparsers(metavar="ACTION")
    pull = models_sub.add_parser("pull", help="download a model's weights from the hub (the only network use)")
    pull.add_argument("name")
    pull.set_defaults(func=_cmd_pull)

    prompt = sub.add_parser("prompt", help="what kadr understands from a prompt, and advice to improve it")
    prompt.add_argument("text")
    prompt.add_argument("--json", action="store_true")
    prompt.set_defaults(func=_cmd_prompt)

    check = sub.add_parser("check", help="measure a video: camera motion, brightness, colour, flicker")
    check.add_argument("video")
    check.add_argument("--camera", help="the camera motion the video should show")
    check.set_defaults(func=_cmd_check)

    from kadr.post.cli import register as register_post

    register_post(sub)
    try:
        from kadr.service.cli import register as register_service
    except ImportError:  # the service layer is optional at import time
        register_service = None
    if register_service is not None:
        register_service(sub)
    from kadr.provenance.cli import register as register_provenance  # verify, keys: torch-free

    register_provenance(sub)
    return parser


def _add_edit_options(cmd: argparse.ArgumentParser) -> None:
    """The options `kadr extend` and `kadr remix` share with `kadr generate`."""
    cmd.add_argument("-o", "--output", help="output file (default: ./kadr-outputs/...)")
    cmd.add_argument("--camera", help="one of " + ", ".join(CAMERA_MOTIONS) + " (default: the video's own move)")
    cmd.add_argument("--style", help="one of " + ", ".join(STYLES))
    cmd.add_argument("--quality", default="fast", help="fast or high (default fast)")
    cmd.add_argument("--model", help="a model from `kadr models` that can do this (default: the quality tier's)")
    cmd.add_argument("--resolution", help="a model preset (e.g. 480p) or WIDTHxHEIGHT (default: the video's aspect)")
    cmd.add_argument("--seed", type=int, help="same seed, same video")
    cmd.add_argument("--negative", help="what to avoid")
    cmd.add_argument("--format", default=None, help="one of " + ", ".join(FORMATS) + " (default: from --output, else mp4)")
    cmd.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: the best available)")
    cmd.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    cmd.add_argument("--quiet", action="store_true", help="no progress bar")


def _source_path(value: str) -> str:
    if not Path(value).is_file():
        from kadr.errors import InvalidRequestError

        raise InvalidRequestError("video", value, "an existing video file")
    return value


def _cmd_extend(args: argparse.Namespace) -> int:
    return _run(args, dict(prompt=args.prompt, source_video=_source_path(args.video), mode="extend", duration=args.seconds))


def _cmd_remix(args: argparse.Namespace) -> int:
    return _run(args, dict(prompt=args.prompt, source_video=_source_path(args.video), mode="remix", strength=args.strength))


def _cmd_generate(args: argparse.Namespace) -> int:
    return _run(args, dict(
        prompt=args.prompt, image=args.image, last_image=args.last_image, duration=args.duration, aspect=args.aspect,
        fps=args.fps, loop=args.loop, cache=args.cache, shots=_shots_option(args), transition=args.transition,
        upscale=args.upscale, smooth=args.smooth,
    ))


def _run(args: argparse.Namespace, fields: dict[str, Any]) -> int:
    """Build the request from ``fields`` and the shared options, make the video, print the summary."""
    from kadr.engine import Engine
    from kadr.pipelines.acceleration import LoraRef, check_attention_choice
    from kadr.pipelines.hub import resolve_lora
    from kadr.request import VideoRequest

    fmt = args.format or (Path(args.output).suffix.lstrip(".").lower() if args.output else "mp4") or "mp4"
    from kadr.provenance.policy import enforce_policy

    for text in [fields.get("prompt") or ""] + [shot.prompt for shot in fields.get("shots", ())]:
        enforce_policy(text, who="cli")  # a refused prompt exits 2 with the policy's message
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        request = VideoRequest(
            negative_prompt=args.negative, resolution=args.resolution, style=args.style, camera=args.camera,
            tier=args.quality, model=args.model, seed=args.seed, format=fmt, **fields,
        )
        loras = [resolve_lora(LoraRef.parse(text)) for text in getattr(args, "lora", [])]
        engine = Engine(device=args.device, attention=check_attention_choice(getattr(args, "attention", None)),
                        compile=getattr(args, "compile", False))
        bar = _ProgressBar(enabled=not args.quiet)
        try:
            result = engine.generate(request, args.output, on_progress=bar.update, loras=loras)
        except GenerationCancelled:
            bar.close()
            print("kadr: cancelled; no file written", file=sys.stderr)
            return 130
        finally:
            bar.close()
    for w in caught:
        if not args.json:
            print(f"kadr: note: {w.message}", file=sys.stderr)
    meta = result.metadata
    if args.json:
        keys = ("path", "poster", "model", "seed", "frames", "fps", "width", "height", "duration", "camera",
                "style", "timings", "warnings", "acceleration")
        print(json.dumps({k: meta[k] for k in keys}, ensure_ascii=False))
    else:
        t = meta["timings"]
        print(meta["path"])
        print(f"{meta['model']} · {meta['width']}x{meta['height']} · {meta['frames']} frames @ {meta['fps']} fps "
              f"({meta['duration']:g} s) · camera {meta['camera']} · seed {meta['seed']} · "
              f"load {t['load']:.1f}s, generate {t['generate']:.1f}s, post {t.get('post', 0.0):.1f}s, encode {t['encode']:.1f}s")
    return 0


def _shots_option(args: argparse.Namespace) -> tuple[Any, ...]:
    """``--shots FILE`` read into shots (kadr.edit.shots.load_shots); none without the option."""
    if not args.shots:
        if args.transition != "cut":
            print("kadr: note: --transition applies to --shots only", file=sys.stderr)
        return ()
    from kadr.edit.shots import load_shots

    if args.duration is not None:
        from kadr.errors import InvalidRequestError

        raise InvalidRequestError("duration", args.duration, "none with --shots (each shot has its own duration)")
    return load_shots(args.shots)


class _ProgressBar:
    """tqdm on stderr, fed by the engine's Progress reports."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr is not None
        self.bar: Any = None

    def update(self, progress: Any) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=100, file=sys.stderr, unit="%", bar_format="{desc} {bar} {n:.0f}% [{elapsed}<{remaining}]")
        stage = progress.stage if not progress.chunks or progress.chunks == 1 else f"{progress.stage} {progress.chunk}/{progress.chunks}"
        self.bar.set_description_str(f"{stage:<14}")
        self.bar.n = round(progress.fraction * 100, 1)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _cmd_models(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from kadr.pipelines.registry import model_rows

    rows = model_rows()
    if args.json:
        print(json.dumps([asdict(r) for r in rows], ensure_ascii=False))
        return 0
    header = ("NAME", "TASKS", "TIER", "PARAMS", "RESOLUTION", "FPS", "LONGEST", "WEIGHTS", "FAST TIER", "HIGH TIER",
              "FITS HERE")
    table = [header] + [
        (r.name, r.tasks, r.tiers, r.parameters, r.resolution, str(r.fps), f"{r.longest_clip_s:g}s",
         "present" if r.present else "not pulled", r.fast, r.high, r.fits) for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def _cmd_pull(args: argparse.Namespace) -> int:
    from kadr.pipelines.hub import pull

    from kadr.pipelines.hub import licences

    path = pull(args.name)
    print(path)
    for line in licences(args.name):
        print(f"licence: {line}")
    return 0


def _cmd_prompt(args: argparse.Namespace) -> int:
    from kadr.prompt import prompt_command

    print(prompt_command(args.text, args.json))
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from kadr.camera import validate_motion
    from kadr.video.checks import check_video

    camera = validate_motion(args.camera, "camera")
    if not Path(args.video).is_file():
        print(f"kadr: error: video: no such file {args.video}", file=sys.stderr)
        return 2
    report = check_video(args.video, camera=camera)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0 if report.get("camera_ok", True) else 1


if __name__ == "__main__":
    sys.exit(main())
