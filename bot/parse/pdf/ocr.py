"""Scanned pages: read by tesseract with Danish data when it is installed.

A page is rendered to a greyscale bitmap by pdfium and handed to the ``tesseract`` program as a
PGM file (no imaging library needed). Without tesseract, or without its Danish data, the caller
says so per page instead of silently dropping the page.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

import pypdfium2 as pdfium

_DPI = 300
_TIMEOUT = 120  # seconds per page: a hung OCR must not stall the run
LANGUAGE = "dan"


class OcrUnavailable(Exception):
    """tesseract or its Danish language data is not installed."""


@functools.cache
def available() -> str | None:
    """Why OCR cannot run here, or None when it can."""
    program = shutil.which("tesseract")
    if program is None:
        return "tesseract is not installed (Debian: apt install tesseract-ocr tesseract-ocr-dan)"
    try:
        listed = subprocess.run([program, "--list-langs"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return f"tesseract does not run ({exc})"
    if LANGUAGE not in listed.split():
        return "tesseract has no Danish data (Debian: apt install tesseract-ocr-dan)"
    return None


def read_page(pdf: pdfium.PdfDocument, index: int) -> str:
    """The text tesseract reads on one page; raises OcrUnavailable or OSError."""
    reason = available()
    if reason is not None:
        raise OcrUnavailable(reason)
    bitmap = pdf[index].render(scale=_DPI / 72, grayscale=True)
    width, height, stride = bitmap.width, bitmap.height, bitmap.stride
    buffer = bytes(bitmap.buffer)
    rows = b"".join(buffer[row * stride : row * stride + width] for row in range(height))
    with tempfile.TemporaryDirectory(prefix="referatvagt-ocr-") as folder:
        image = Path(folder) / "page.pgm"
        image.write_bytes(b"P5\n%d %d\n255\n" % (width, height) + rows)
        try:
            done = subprocess.run(
                ["tesseract", str(image), "stdout", "-l", LANGUAGE, "--dpi", str(_DPI)],
                capture_output=True,
                timeout=_TIMEOUT,
            )
        except subprocess.TimeoutExpired as exc:
            raise OSError(f"tesseract took longer than {_TIMEOUT} s") from exc
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise OSError(said[-1] if said else f"tesseract failed (exit status {done.returncode})")
    return done.stdout.decode("utf-8", "replace")
