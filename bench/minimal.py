"""The baseline: a Flask app that answers every webhook with one constant TwiML string.

It runs under the same gunicorn command as the help line, so the ratio between the two is the
cost of the help line's own work (signature, flow, database, TwiML) on this machine.
"""
from flask import Flask, Response

TWIML = ('<?xml version="1.0" encoding="UTF-8"?><Response><Say language="en-GB" voice="Polly.Amy">'
         "Welcome to the back pain help line.</Say></Response>")

app = Flask(__name__)


@app.post("/", defaults={"path": ""})
@app.post("/<path:path>")
def answer(path: str) -> Response:
    return Response(TWIML, mimetype="text/xml")
