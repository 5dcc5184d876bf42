"""The bounce mailbox: what comes back to the return path, read and judged one message at a time.

:func:`~mailer.feedback.mailbox.classify.classify` turns one message into a
:class:`~mailer.feedback.mailbox.verdict.Verdict` (a bounce, a soft bounce, a complaint, an
unsubscribe, an auto-reply, or unknown), with the lines it was based on. A message the verdict
leaves ``unknown`` is for a person: it is never moved, flagged or marked read.
"""
