# The C loop takes and returns what its Python twin does.
from bot.match.automaton import scan_hits_python as scan_hits

__all__ = ["scan_hits"]
