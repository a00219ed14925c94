"""The match stage: watchlists against stored items, every match recorded exactly once.

:mod:`bot.match.watchlists` reads and validates the watchlist files, whose terms are written in
the query language of :mod:`bot.match.query` (words, phrases, prefixes, acronyms and suspended
compounds of Danish text). :mod:`bot.match.automaton` finds every term of every watchlist in one
pass over a text; :mod:`bot.match.matcher` turns those hits into the watchlists an item matches,
each with its :mod:`bot.match.snippet`. :mod:`bot.match.matches` runs it all over the store's
change events and new watchlists' look back and records the matches.
"""
