"""Secrets leave no text mailer writes, in any form a server, a library or a URL gives them."""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl, quote

import pytest

from mailer.credentials import Redactor

KEY = "SG.abc+def/ghi=jkl"


@pytest.mark.parametrize("form", [
    KEY,
    quote(KEY, safe=""),
    base64.b64encode(f"api:{KEY}".encode()).decode(),
    "SG.abc def/ghi=jkl",  # written unencoded in a query string, which reads "+" as a space
], ids=["plain", "percent-encoded", "base64", "form-decoded"])
def test_each_form_of_a_secret_is_taken_out(form: str) -> None:
    text = f"the server said: {form} is not allowed"
    assert Redactor([KEY])(text) == "the server said: *** is not allowed"


def test_a_key_in_a_query_string_is_taken_out_as_the_query_string_reads_it() -> None:
    endpoint = dict(parse_qsl(f"endpoint=http://u:{KEY}@api.example.org"))["endpoint"]
    assert KEY not in endpoint  # the query string turned its "+" into a space
    assert Redactor([KEY])(f"cannot reach {endpoint}") == "cannot reach http://u:***@api.example.org"
