"""The publish stage: what was stored and matched, told to the people who follow it.

Feeds: :mod:`bot.publish.feeds` writes every watchlist's and source's RSS and Atom feed (each item
told as :mod:`bot.publish.entries` tells it, in feeds, mails and notifications alike; the folder left
as it is when nothing changed: :mod:`bot.publish.publish_state`), :mod:`bot.publish.pages` each
item's own page (its data, text and view in ``page_data``, ``page_text``, ``page_view``), and
:mod:`bot.publish.health` the ``_health`` feed; :mod:`bot.publish.serve` serves them and
:mod:`bot.publish.search_web` answers the search page (queries: :mod:`bot.publish.search`).
Email: :mod:`bot.publish.digest` builds each recipient's digest into the outbox (rendered by
``digest_render`` and ``digest_words``; the weekly all-clear in ``all_clear``) and
:mod:`bot.publish.mailer` sends it; chat and webhook notifications go the same way through
:mod:`bot.publish.notify`. :mod:`bot.publish.claims` lets each message be sent by one worker,
exactly once.
"""
