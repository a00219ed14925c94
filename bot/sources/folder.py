"""``type = "folder"``: minutes files in a local folder, read recursively.

Only files inside the folder are read. A symbolic link is followed only when it resolves to a
file (or folder) inside the folder; a link pointing out of it, or to nothing, is a warning that
names the link, so a stray ``secret.md -> /elsewhere`` is never stored, listed or served.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from bot.errors import FetchError
from bot.source_config import FolderSource as FolderConfig
from bot.sources.base import RawDocument, Source

SUFFIXES = frozenset({".md", ".txt", ".html", ".htm", ".pdf"})
MAX_BYTES = 100 * 1024 * 1024


class FolderSource(Source):
    """Every .md, .txt, .html/.htm and .pdf file under ``path``; hidden files are skipped."""

    type = "folder"
    config: FolderConfig

    def fetch(self) -> Iterator[RawDocument | FetchError]:
        root = self.config.path
        if not root.is_dir():
            raise FetchError(f"folder {root} does not exist")
        files = sorted(self._files(root.resolve()))
        self.listed = len(files)
        for key, path in files:
            yield self._read(key, path)

    def _files(self, root: Path) -> Iterator[tuple[str, Path]]:
        """(key, real path) of every minutes file: keys are paths relative to the folder as
        listed; real paths have every link resolved and lie inside the folder."""
        for folder, subfolders, names in os.walk(root):
            here = Path(folder)
            subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
            for name in [name for name in subfolders if (here / name).is_symlink()]:
                # Not entered: a linked folder inside the folder is read where it really is, and
                # one outside is not read at all (the check warns).
                subfolders.remove(name)
                self._inside(root, here / name)
            for name in sorted(names):
                if not name.startswith(".") and Path(name).suffix.lower() in SUFFIXES:
                    real = self._inside(root, here / name)
                    if real is not None and real.is_file():
                        yield (here / name).relative_to(root).as_posix(), real

    def _inside(self, root: Path, path: Path) -> Path | None:
        """The path with its links resolved, or None (and a warning) if that is outside the
        folder or does not exist."""
        if not path.is_symlink():
            return path
        shown = path.relative_to(root).as_posix()
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):  # dangling, or a loop of links
            self.warnings.append(f"{self.config.path / shown}: symbolic link to nothing; skipped")
            return None
        if not real.is_relative_to(root):
            self.warnings.append(
                f"{self.config.path / shown}: symbolic link to something outside the folder; skipped "
                "(copy the file into the folder to watch it)"
            )
            return None
        return real

    def _read(self, key: str, path: Path) -> RawDocument | FetchError:
        name = str(self.config.path / key)
        try:
            # O_NOFOLLOW: the path was checked with its links resolved; a link swapped in since
            # then is refused rather than followed.
            descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(descriptor, "rb") as handle:
                stat = os.fstat(handle.fileno())
                if stat.st_size > MAX_BYTES:
                    return FetchError(f"{name}: file is larger than {MAX_BYTES // 2**20} MB; skipped")
                content = handle.read()
        except OSError as exc:
            return FetchError(f"{name}: cannot read file ({exc.strerror or exc})")
        return RawDocument(
            key=key,
            name=name,
            content=content,
            fetched_at=datetime.now(timezone.utc),
            url=path.as_uri(),
            published_at=datetime.fromtimestamp(stat.st_mtime, timezone.utc),
        )
