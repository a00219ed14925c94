"""``python -m bot`` does what the ``referatvagt`` command does."""

from bot.cli import main

main()
