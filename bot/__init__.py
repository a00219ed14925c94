"""referatvagt: change-tracking alerts for Danish municipal meeting minutes."""

__version__ = "0.1.0"
