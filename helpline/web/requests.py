"""Flask's request, with a shorter way to a webhook's form.

Every Twilio webhook is a small urlencoded POST with a Content-Length. Werkzeug parses it with
urllib's parse_qsl too, but gets there through a form parser object, a limited stream, the
Content-Type parsed by regular expression and its own error handler for bad escapes: twice the
cost of the parsing itself (docs/benchmarks.md). Such a body is read and parsed here directly,
within the same size limit; any other body (multipart, JSON, no length, data already read, a
shallow request) goes the usual way.
"""
from __future__ import annotations

from io import BytesIO
from typing import Any
from urllib.parse import unquote

import werkzeug.urls  # noqa: F401  (registers the "werkzeug.url_quote" error handler used below)
from flask import Request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import RequestEntityTooLarge

FORM = "application/x-www-form-urlencoded"


class Form(ImmutableMultiDict):
    """Werkzeug's form, with a cheaper get(): Werkzeug's raises and catches a BadRequestKeyError
    (an HTTP exception, slow to build) for every absent field, and a webhook asks for several;
    and it takes three calls in Python to reach the first value of a field's list, which this
    one reads straight from the dict. The answers are Werkzeug's (tested)."""

    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:  # noqa: A002  (Werkzeug's name)
        values = dict.get(self, key)
        if not values:
            return default
        if type is None:
            return values[0]
        try:
            return type(values[0])
        except (ValueError, TypeError):
            return default


_NONE = Form()  # no files in a urlencoded body


class HelplineRequest(Request):
    parameter_storage_class = Form

    def _load_form_data(self) -> None:
        if "form" in self.__dict__:
            return
        if self.shallow or getattr(self, "_cached_data", None) is not None or not is_plain_form(self.environ):
            return super()._load_form_data()
        d = self.__dict__
        d["stream"], d["form"], d["files"] = BytesIO(b""), read_form(self.environ, self.max_content_length), _NONE


def is_plain_form(environ: dict[str, Any]) -> bool:
    """A urlencoded body with a length, as Twilio sends every webhook (read by read_form)."""
    return (environ.get("CONTENT_LENGTH", "").isdigit()
            and environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() == FORM)


def read_form(environ: dict[str, Any], limit: int | None) -> Form:
    """A plain form's body, read as Werkzeug's parser reads it: blank values kept, percent
    escapes of invalid UTF-8 kept as they were, a body that is not UTF-8 an empty form. A body
    over `limit` is refused (413) before it is read."""
    size = int(environ["CONTENT_LENGTH"])
    if limit is not None and size > limit:
        raise RequestEntityTooLarge()
    body = environ["wsgi.input"].read(size) if size else b""
    try:
        return Form(parse_pairs(body.decode()))
    except ValueError:
        return Form()


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """urllib's parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote"), pair for
    pair, as Werkzeug's parser calls it.

    parse_qsl calls unquote and a coercion function for every name and every value; most of a
    webhook's (sids, statuses, digits) hold no escape and no '+'. Here unquote runs only where
    there is a '%' to decode: a webhook's form is parsed in about half the time
    (docs/benchmarks.md). The order of the two steps is parse_qsl's: '+' becomes a space first.
    """
    pairs = []
    for field in text.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        if "+" in name:
            name = name.replace("+", " ")
        if "%" in name:
            name = unquote(name, errors=_ESCAPE_ERRORS)
        if "+" in value:
            value = value.replace("+", " ")
        if "%" in value:
            value = unquote(value, errors=_ESCAPE_ERRORS)
        pairs.append((name, value))
    return pairs


# Werkzeug's error handler: a percent escape that is not UTF-8 stays as it was written.
_ESCAPE_ERRORS = "werkzeug.url_quote"
