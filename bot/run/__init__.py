"""The run stage: the stages composed into cycles, and the unattended bot that drives them.

:mod:`bot.run.pipeline` is one cycle (fetch → parse → store → match → publish) with its
:mod:`bot.run.report`; :mod:`bot.run.poll` stores one poll's documents in batches while
:mod:`bot.run.reading` reads them in worker processes. :mod:`bot.run.scheduler` runs cycles under
APScheduler; :mod:`bot.run.workers` shares source polls between workers through the store and
:mod:`bot.run.lock` keeps one writer per SQLite store; :mod:`bot.run.status` tells what it all did.
"""
