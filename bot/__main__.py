"""``python -m bot`` does what the ``referatvagt`` command does."""

from bot.cli import main

if __name__ == "__main__":  # not when a worker process imports it (see bot.run.reading)
    main()
