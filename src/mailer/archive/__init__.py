"""``mailer archive``: the newsletter's home on the web, as a static site.

Every sent issue (``--all``: every issue) gets a page per edition, in the email's own design
(``<id>/``, ``<id>/<lang>/``); each language an index, newest first, and an Atom feed; the site
a sitemap. Nothing in it is a reader's own, nothing tracks anyone, and the same issues, ledger
and settings always give the same bytes, so the folder can be committed or synced to any
static host. An unchanged issue is neither loaded nor rendered again (see
:mod:`mailer.archive.cache`), and only files whose bytes change are written.
"""
