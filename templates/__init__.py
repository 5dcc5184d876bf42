"""mailer's default theme, installed as ``mailer.theme`` (see ``mailer.compose.theme``).

The templates, their words (``labels.toml``), the social networks (``social.toml``) and their
icons. A newsletter project overrides any of these files by putting its own copy in a
``templates/`` folder beside its ``mailer.toml``.
"""
