"""mailer: newsletter-as-code. Write an issue in YAML, preview it, check it, send it."""

__version__ = "0.1.0"
