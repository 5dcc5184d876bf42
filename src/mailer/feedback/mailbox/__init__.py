"""The bounce mailbox: what comes back to the return path, read and judged one message at a time.

:func:`~mailer.feedback.mailbox.classify.classify` turns one message into a
:class:`~mailer.feedback.mailbox.verdict.Verdict` (a bounce, a soft bounce, a complaint, an
unsubscribe, an auto-reply, or unknown), with the lines it was based on. The mailbox readers
(:mod:`.maildir`, :mod:`.imap`) list, fetch and move messages and nothing else. A command uses
them in this order, so that a crash at any point loses and doubles nothing::

    with open_maildir(path) as box:            # or open_imap(url, password)
        for key in box.waiting():
            data = box.fetch(key)              # never marks it read
            if data is None:
                continue                       # moved away by someone else meanwhile
            verdict = classify(parse(data), verp=..., unsubscribe=..., ...)
            store.record(verdict.events)       # de-duplicated by event id
            if verdict.handled:
                box.move_to_processed(key)     # only after the store has it

A message the verdict leaves ``unknown`` is never moved, flagged or marked read: it is there for
a person, and it is judged again on the next run.
"""
