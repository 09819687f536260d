"""``agent-tui examples``: list the example recipes and sample themes that ship in the package, or
copy them out with ``--copy DIR`` to edit them."""

from __future__ import annotations

import argparse
from pathlib import Path

from agent_tui.commands.common import UsageError, emit_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--copy",
        metavar="DIR",
        help="copy the recipes into DIR and the themes into DIR/themes (never overwrites)",
    )
    parser.add_argument("--json", action="store_true")


def cmd_examples(args: argparse.Namespace) -> int:
    from agent_tui import bundled

    if args.copy:
        dest = Path(args.copy).expanduser().absolute()
        if dest.exists() and not dest.is_dir():
            raise UsageError(f"--copy {dest}: not a directory")
        try:
            written = bundled.copy_examples(dest)
        except bundled.CopyError as exc:
            raise UsageError(str(exc)) from None
        except OSError as exc:
            raise UsageError(f"--copy {dest}: {exc.strerror or exc}") from None
        if args.json:
            emit_json({"copied": [str(p) for p in written]})
        else:
            for path in written:
                print(path)
            if not written:
                print(f"{dest}: already holds every example")
        return 0
    examples = bundled.list_examples()
    themes = bundled.sample_themes()
    if args.json:
        emit_json(
            {
                "examples": [
                    {
                        "name": e.name,
                        "title": e.recipe.title,
                        "description": e.recipe.description,
                        "steps": len(e.recipe.steps),
                        "path": str(e.path),
                    }
                    for e in examples
                ],
                "themes": [{"name": p.stem, "path": str(p)} for p in themes],
            }
        )
        return 0
    print("Example recipes (`agent-tui add --recipe NAME` starts one):")
    width = max((len(e.name) for e in examples), default=0)
    for e in examples:
        about = e.recipe.description or f"{len(e.recipe.steps)} steps"
        print(f"  {e.name:<{width}}  {e.recipe.title}: {about}")
    print("Sample themes (copy one into `agent-tui locate themes`, then T in the app):")
    for path in themes:
        print(f"  {path.stem}")
    print(f"In {bundled.examples_dir().parent}; `agent-tui examples --copy DIR` copies them out.")
    return 0
