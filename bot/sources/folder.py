"""``type = "folder"``: minutes files in a local folder, read recursively."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from bot.config import FolderSource as FolderConfig
from bot.errors import FetchError
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
            raise FetchError(f"source {self.config.name!r}: folder {root} does not exist")
        paths = sorted(self._files(root))
        self.listed = len(paths)
        for path in paths:
            yield self._read(root, path)

    def _files(self, root: Path) -> Iterator[Path]:
        for path in root.rglob("*"):
            relative = path.relative_to(root)
            hidden = any(part.startswith(".") for part in relative.parts)
            if not hidden and path.suffix.lower() in SUFFIXES and path.is_file():
                yield path

    def _read(self, root: Path, path: Path) -> RawDocument | FetchError:
        try:
            stat = path.stat()
            if stat.st_size > MAX_BYTES:
                return FetchError(f"{path}: file is larger than {MAX_BYTES // 2**20} MB; skipped")
            content = path.read_bytes()
        except OSError as exc:
            return FetchError(f"{path}: cannot read file ({exc.strerror or exc})")
        return RawDocument(
            key=path.relative_to(root).as_posix(),
            name=str(path),
            content=content,
            fetched_at=datetime.now(timezone.utc),
            url=path.resolve().as_uri(),
            published_at=datetime.fromtimestamp(stat.st_mtime, timezone.utc),
        )
