"""``kadr verify FILE`` and ``kadr keys init``: registered on the main parser, imported lazily."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from kadr.errors import KadrError


def register(subparsers: Any) -> None:
    verify = subparsers.add_parser("verify", help="check a file's provenance: its C2PA manifest and kadr's watermark")
    verify.add_argument("file")
    verify.add_argument("--json", action="store_true", help='one object: {"manifest": ... or null, "watermark": ...}')
    verify.add_argument("--job", action="append", default=[], metavar="NAME",
                        help="a job this studio made (an output's file name without its extension); a watermark too "
                             "faint to decode is matched against these (repeatable)")
    verify.add_argument("--jobs-from", metavar="FOLDER",
                        help="every video under FOLDER is a job this studio made (e.g. ./kadr-outputs)")
    verify.set_defaults(func=cmd_verify)

    keys = subparsers.add_parser("keys", help="the studio's signing certificate for C2PA manifests")
    keys_sub = keys.add_subparsers(metavar="ACTION")
    init = keys_sub.add_parser("init", help="make a local root and signing certificate under $KADR_HOME/keys")
    init.add_argument("--organisation", default="kadr studio", help="the organisation named in the certificates")
    init.add_argument("--force", action="store_true", help="replace existing keys (files signed before stay valid)")
    init.set_defaults(func=cmd_keys_init)


def cmd_verify(args: argparse.Namespace) -> int:
    from kadr.provenance.verify import verify_file

    try:
        result = verify_file(args.file, [*args.job, *(_jobs_in(args.jobs_from) if args.jobs_from else [])])
    except ValueError as exc:
        raise _UserError(str(exc)) from None
    print(json.dumps(result.to_dict(), ensure_ascii=False) if args.json else result.verdict(args.file))
    return 0 if result.confirmed else 1


def _jobs_in(folder: str) -> list[str]:
    """The job names of the videos under ``folder``, as the engine named their watermarks."""
    from pathlib import Path

    from kadr.provenance import job_name

    root = Path(folder)
    if not root.is_dir():
        raise _UserError(f"--jobs-from {folder}: no such folder")
    return [job_name(p) for p in sorted(root.rglob("*")) if p.suffix.lower() in (".mp4", ".webm", ".gif") and p.is_file()]


def cmd_keys_init(args: argparse.Namespace) -> int:
    from kadr.provenance.keys import init_keys

    try:
        made = init_keys(organisation=args.organisation, force=args.force)
    except (FileExistsError, ValueError) as exc:
        raise _UserError(str(exc)) from None
    print(f"signing certificate: {made.chain}\nprivate key (owner only): {made.key}\ntrust anchor for verifiers: {made.trust_anchors}",
          file=sys.stdout)
    return 0


class _UserError(KadrError):
    """Printed by kadr.cli.main as one ``kadr: error:`` line, exit status 2."""
