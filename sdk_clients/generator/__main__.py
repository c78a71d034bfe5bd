"""`python -m sdk_clients.generator [--check]`: regenerate every SDK's protocol code (make sdk)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from sdk_clients.generator.model import DEFAULT_PROTO, ROOT, Protocol, load_protocol

EMITTERS = ("python", "typescript")
# An emitter whose module is not in the tree yet is skipped, so one SDK can land before another.
OPTIONAL_EMITTERS = {"typescript"}

Emit = Callable[[Protocol, Path], dict[Path, bytes]]


def _load_emitter(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"sdk_clients.generator.{name}")
    except ModuleNotFoundError as exc:
        if name in OPTIONAL_EMITTERS and exc.name == f"sdk_clients.generator.{name}":
            return None
        raise


def generate(root: Path = ROOT, proto: Path = DEFAULT_PROTO) -> dict[Path, bytes]:
    protocol = load_protocol(proto)
    files: dict[Path, bytes] = {}
    for name in EMITTERS:
        module = _load_emitter(name)
        if module is None:
            print(f"skip {name}: sdk_clients/generator/{name}.py is not there")  # noqa: T201
            continue
        emit: Emit = module.emit
        files.update(emit(protocol, root))
    return files


def stale(files: dict[Path, bytes], root: Path = ROOT) -> list[Path]:
    found = []
    for relative, content in sorted(files.items()):
        target = root / relative
        if not target.exists() or target.read_bytes() != content:
            found.append(relative)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sdk_clients.generator", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is stale")
    args = parser.parse_args(argv)
    files = generate()
    changed = stale(files)
    if args.check:
        for relative in changed:
            print(f"stale: {relative} (run `make sdk`)")  # noqa: T201
        if not changed:
            print(f"{len(files)} generated files are up to date")  # noqa: T201
        return 1 if changed else 0
    for relative in changed:
        target = ROOT / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[relative])
        print(f"wrote {relative}")  # noqa: T201
    print(f"{len(files)} generated files, {len(changed)} changed")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
