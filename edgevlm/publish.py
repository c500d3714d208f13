"""Publishing a set of staged files into an output folder all or nothing, recoverably after a crash anywhere.

The files are written in a staging folder inside OUT first; `publish` then moves them in, in steps that each
leave enough on disk for the next run to finish the job (`recover`), so that OUT is always either the old set
or the new set, even after SIGKILL or a power cut between two steps:

    1. fsync the staged files
    2. journal  STAGE/.publish.json: the names, and which of them OUT had before     (atomic, fsynced)
    3. aside    each OUT/name that exists -> STAGE/.previous/name                      (fsync both folders)
    4. in       each STAGE/name -> OUT/name                                            (fsync OUT)
    5. commit   STAGE/.published: from here the new set is complete                  (fsynced)
    6. remove STAGE

`recover(stage, out)` reads what a dead run left: no journal, nothing of OUT was touched; a commit mark, the new
set is complete; otherwise it rolls back: old files come back from .previous, new names OUT did not have go.
Only then is the staging folder removed (a previous output is never deleted with it).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from edgevlm.files import fsync_dir, fsync_file

JOURNAL = ".publish.json"
COMMITTED = ".published"
PREVIOUS = ".previous"


def publish(stage: Path, out: Path, names: list[str]) -> None:
    """Move STAGE/<names> into OUT all or nothing; on an OSError OUT is rolled back and the error re-raised."""
    try:
        for n in names:
            fsync_file(stage / n)
        _write_synced(stage / JOURNAL, json.dumps({"names": names, "had": [n for n in names if (out / n).exists()]}))
        fsync_dir(stage)
        (stage / PREVIOUS).mkdir(exist_ok=True)
        for n in names:
            if (out / n).exists():
                os.replace(out / n, stage / PREVIOUS / n)
        fsync_dir(stage / PREVIOUS)
        fsync_dir(out)
        for n in names:
            os.replace(stage / n, out / n)
        fsync_dir(out)
        _write_synced(stage / COMMITTED, "")
        fsync_dir(stage)
    except OSError:
        recover(stage, out)
        raise
    shutil.rmtree(stage, ignore_errors=True)


def recover(stage: Path, out: Path) -> str:
    """Finish what a publish into OUT left in STAGE, then remove STAGE. Returns what was found:
    "untouched" (no journal), "new" (committed) or "rolled back"."""
    journal = _journal(stage)
    if journal is None:
        state = "untouched"
    elif (stage / COMMITTED).exists():
        state = "new"
    else:
        _roll_back(stage, out, journal)
        state = "rolled back"
    shutil.rmtree(stage, ignore_errors=True)
    return state


def _journal(stage: Path) -> dict | None:
    try:
        data = json.loads((stage / JOURNAL).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # never written, or its temp file only: the aside step had not started
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("names", "had")):
        return None
    return data


def _roll_back(stage: Path, out: Path, journal: dict) -> None:
    had = set(journal["had"])
    for n in journal["names"]:
        if not isinstance(n, str) or "/" in n or n in ("", ".", ".."):
            continue  # the journal is ours, but a name must never leave OUT
        saved = stage / PREVIOUS / n
        if n in had:
            if saved.exists():  # moved aside (and perhaps replaced by the new file): the old one goes back
                os.replace(saved, out / n)
        else:  # OUT did not have it: whatever is there now is the new run's
            (out / n).unlink(missing_ok=True)
    fsync_dir(out)


def _write_synced(path: Path, text: str) -> None:
    """Not edgevlm.files.write_text: its OutputError would hide the OSError that triggers the roll back."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    fsync_file(tmp)
    os.replace(tmp, path)
