"""What comes back after a send: bounces, complaints and unsubscribes, from a provider's
webhook or from the bounce mailbox, each turned into one
:class:`~mailer.audience.events.FeedbackEvent` for the suppression store."""
