"""The ``labelfab`` command of labelfab-client: ``labelfab pull``.

labelfab-client and the labelfab server both install the ``labelfab`` script with this module's
:func:`main` as its target (so it is the same script whichever was installed last). When the
server is installed alongside (it registers its command under the ``labelfab.server`` entry point
group), :func:`main` hands every command to it, and the server's ``pull`` runs :func:`run` of
this module: one copy of the command, with or without the server.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from importlib.metadata import entry_points
from typing import TextIO

from labelfab_client.download import pull
from labelfab_client.errors import ClientError

FORMATS = "jsonl, parquet, csv, json, coco, yolo, voc, conll2003, media, card"


def main() -> None:
    """Console-script entry point: the server's command when it is installed, else :func:`run`."""
    server = next(iter(entry_points(group="labelfab.server", name="cli")), None)
    if server is not None:
        server.load()()
        return
    raise SystemExit(run(sys.argv[1:]))


def _parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The ``labelfab`` parser and its ``pull`` subparser."""
    parser = argparse.ArgumentParser(
        prog="labelfab", description="labelfab-client: pull published labelfab dataset versions.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    p = commands.add_parser(
        "pull", help="download a published dataset version and verify its sha256",
        description="Download a published dataset version from a labelfab server and verify its "
                    "sha256. Files go to OUT/project-P/vN/; the path of the file is printed last.")
    p.add_argument("url", metavar="URL", help="the labelfab server, https://host[:port]")
    p.add_argument("target", metavar="PROJECT[@VERSION]", help="a project id, and a version number "
                   "(3 or v3) or 'latest' (the default)")
    p.add_argument("--token", default=os.environ.get("LABELFAB_TOKEN"),
                   help="an API token (read-only is enough); or set LABELFAB_TOKEN")
    p.add_argument("--format", dest="fmt", metavar="FORMAT", default="jsonl",
                   help=f"{FORMATS} (default: jsonl)")
    p.add_argument("--out", dest="out_dir", metavar="OUT", default=".",
                   help="files go to OUT/project-P/vN/ (default: .)")
    p.add_argument("--media", action="store_true", help="also download and unpack the images")
    return parser, p


def run(argv: list[str]) -> int:
    """Run ``labelfab ARGV`` with the client's commands; the exit status (argparse exits itself
    on ``--help`` and on bad arguments)."""
    if argv and not argv[0].startswith("-") and argv[0] != "pull":
        print(f"labelfab: error: {argv[0]!r} is a command of the labelfab server; labelfab-client "
              f"has 'pull' only (pip install labelfab for the others)", file=sys.stderr)
        return 2
    parser, pull_parser = _parser()
    args = parser.parse_args(argv)
    if not args.token:
        pull_parser.error("give an API token with --token, or set LABELFAB_TOKEN")
    project, _, version = args.target.partition("@")
    if version[:1] in ("v", "V") and version[1:].isdigit():  # as `labelfab dataset list` prints it
        version = version[1:]
    if not project.isdigit() or (version and not (version.isdigit() or version == "latest")):
        return _error(f"give the project as PROJECT or PROJECT@VERSION (numbers), got {args.target!r}")
    if not args.url.lower().startswith(("http://", "https://")):
        return _error(f"give the server's URL with http:// or https:// (https://host[:port]), got {args.url!r}")
    progress = Progress(sys.stderr)
    try:
        path = pull(args.url, int(project), version or None, token=args.token, format=args.fmt,
                    out_dir=args.out_dir, media=args.media, progress=progress)
    except ClientError as exc:
        progress.close()
        return _error(str(exc))
    except OSError as exc:  # the folder or file under --out (the server's failures are ClientError)
        progress.close()
        return _error(f"cannot write {exc.filename}: {exc.strerror}" if exc.filename else f"cannot write: {exc}")
    progress.close()
    print(f"sha256 verified: {path}")
    print(path)
    return 0


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


class Progress:
    """``progress(done, total)`` for :func:`~labelfab_client.pull`: one line on a terminal,
    rewritten at most ten times a second; nothing when the stream is not a terminal."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.live = stream.isatty()
        self.shown_at = 0.0
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.live or (done < total and now - self.shown_at < 0.1):
            return
        self.shown_at, self.shown = now, True
        share = f" ({100 * done // total}%)" if total else ""
        self.stream.write(f"\rpulling: {_size(done)} of {_size(total)}{share}   ")
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def _size(n: float) -> str:
    units = ("B", "KiB", "MiB", "GiB")
    i = 0
    while n >= 1024 and i < len(units) - 1:
        n /= 1024
        i += 1
    return f"{n:.0f} B" if i == 0 else f"{n:.1f} {units[i]}"
