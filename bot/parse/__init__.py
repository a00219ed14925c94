"""The parse stage: a fetched document's bytes → a meeting with its agenda items.

:mod:`bot.parse.extract` turns HTML, PDF (through :mod:`bot.parse.pdf`, which reads the page
layout: columns, running headers and footers, hyphenation) and plain or markdown text into one
markdown-ish text; :mod:`bot.parse.parser` finds the meeting and its items in it, and
:mod:`bot.parse.sections` the sections of each item (Resume, Sagsfremstilling, Indstilling,
Beslutning …). The result is the value objects of :mod:`bot.parse.minutes`, which every later stage
works on; a portal's structured data is turned into them without the text parser.
"""
