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
from urllib.parse import parse_qsl

import werkzeug.urls  # noqa: F401  (registers the "werkzeug.url_quote" error handler used below)
from flask import Request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import RequestEntityTooLarge

FORM = "application/x-www-form-urlencoded"


class Form(ImmutableMultiDict):
    """Werkzeug's form, with a cheaper miss: its get() raises and catches a BadRequestKeyError (an
    HTTP exception, slow to build) for every absent field, and a webhook asks for several."""

    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:  # noqa: A002  (Werkzeug's name)
        if key not in self:
            return default
        return super().get(key, default, type)


_NONE = Form()  # no files in a urlencoded body


class HelplineRequest(Request):
    parameter_storage_class = Form

    def _load_form_data(self) -> None:
        if "form" in self.__dict__:
            return
        environ = self.environ
        length = environ.get("CONTENT_LENGTH")
        if (self.shallow or not length or environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() != FORM
                or getattr(self, "_cached_data", None) is not None):
            return super()._load_form_data()
        try:
            size = int(length)
        except ValueError:
            return super()._load_form_data()
        limit = self.max_content_length
        if size < 0 or (limit is not None and size > limit):
            raise RequestEntityTooLarge()
        d = self.__dict__
        d["stream"], d["form"], d["files"] = BytesIO(b""), parse_form(environ["wsgi.input"], size), _NONE


def parse_form(stream: Any, size: int) -> Form:
    """`size` bytes of a urlencoded body, read as Werkzeug's parser reads them: blank values kept,
    percent escapes of invalid UTF-8 kept as they were, a body that is not UTF-8 an empty form."""
    body = stream.read(size) if size else b""
    try:
        return Form(parse_qsl(body.decode(), keep_blank_values=True, errors="werkzeug.url_quote"))
    except ValueError:
        return Form()
