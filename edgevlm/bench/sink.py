"""Where a bench's records go, opened before the first repetition so a bad destination costs no measurement.

`Sink.open` opens the results store (creating and migrating it: a store that cannot be written fails here) and
checks that the --json file's folder takes a file. If the store fails later anyway (a server gone, a disk
full), `save` writes the records to a spool file and says how to store them: nothing measured is lost.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Sequence

from edgevlm.errors import EdgeVLMError, OutputError, StoreError
from edgevlm.files import write_text
from edgevlm.paths import default_store_path
from edgevlm.store import ResultsStore, RunRecord


class Sink:
    def __init__(self, db: ResultsStore, json_file: Path | None):
        self.db = db
        self.json_file = json_file

    @classmethod
    def open(cls, store: str | None, json_file: Path | None) -> "Sink":
        if json_file is not None:
            json_file = Path(json_file).absolute()
            check_writable(json_file.parent, f"--json {json_file}")
        location = store or default_store_path()
        try:
            db = ResultsStore(location)
        except OSError as exc:               # e.g. /dev/null/x.sqlite: its folder cannot be made
            raise StoreError(f"cannot open the results store {location}: {exc.strerror or exc}",
                             hint="pass --store with a writable SQLite path or a reachable postgresql:// URL") from None
        return cls(db, json_file)

    def save(self, records: Sequence[RunRecord]) -> str:
        """Store the records (and write the JSON file); the message to show. A store failing now spools."""
        text = json.dumps([r.to_dict() for r in records], indent=2) + "\n"
        if self.json_file is not None:
            write_text(self.json_file, text)
        try:
            ids = self.db.add_runs(records)
        except (EdgeVLMError, OSError, Exception) as exc:     # noqa: BLE001 — whatever failed, keep the records
            spool = write_spool(text)
            raise StoreError(f"could not store the results in {self.db.path} ({_first_line(exc)}); "
                             f"they are kept in {spool}",
                             hint=f"store them later: edgevlm results import {spool} --store STORE") from None
        return f"stored runs {', '.join(map(str, ids))} in {self.db.path}"

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Sink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_writable(folder: Path, what: str) -> None:
    """The folder exists and takes a new file (made and removed at once)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".edgevlm-probe-", dir=folder)
    except OSError as exc:
        raise OutputError(f"{what}: cannot write in {folder} ({exc.strerror or exc})",
                          hint="give a path in an existing, writable folder") from None
    os.close(fd)
    os.unlink(probe)


def spool_dir() -> Path:
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "edgevlm" / "spool"


def write_spool(text: str) -> Path:
    """The records as a file `edgevlm results import` reads; the data folder, else the temp folder."""
    name = f"bench-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.json"
    for folder in (spool_dir(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_text(folder / name, text)
            return folder / name
        except (OSError, EdgeVLMError):
            continue
    raise OutputError("the results could not be stored nor spooled (no writable folder)")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
