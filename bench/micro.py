"""Micro benchmarks, in-process: one engine step, flow loading and validation, signatures, TwiML.

Each is timed with timeit: the best and the median of several repeats of an automatically sized
loop, in microseconds per call. The best is the least disturbed by other work on the machine.
"""
from __future__ import annotations

import statistics
import timeit
from typing import Any, Callable

from .servers import ROOT
from .traffic import BASE, TOKEN, Ids, Signer, render


def _time(fn: Callable[[], Any], repeat: int, min_seconds: float) -> dict[str, float]:
    timer = timeit.Timer(fn)
    number = 1
    while True:
        if timer.timeit(number) >= min_seconds:
            break
        number *= 2
    runs = [t / number * 1e6 for t in timer.repeat(repeat, number)]
    return {"best_us": round(min(runs), 2), "median_us": round(statistics.median(runs), 2), "loops": number}


def run(smoke: bool = False) -> dict[str, dict[str, float]]:
    """Time each piece; returns {name: {best_us, median_us, loops, ...}}."""
    from twilio.request_validator import RequestValidator

    from helpline import engine, load_checked_flows
    from helpline.web.twiml import sms_reply, voice_reply

    repeat, min_seconds = (3, 0.02) if smoke else (7, 0.2)
    flows_dir = ROOT / "flows"
    flows = load_checked_flows(str(flows_dir))
    flow = flows["back_pain"]
    ctx = engine.Context(channel="voice", d4_available=True, variables={"callback_hours": "2", "routine_days": "3"})
    # A caller half way through the red flags: pain now, then "no" to the first questions.
    state = engine.start(flow, ctx).state
    for key in ("1", "2", "2", "2"):
        state = engine.step(flow, state, engine.Input.key(key), ctx).state
    key_no = engine.Input.key("2")
    words = engine.Input.text("no, nothing like that")
    sms_ctx = engine.Context(channel="sms", d4_available=True, variables=ctx.variables)

    path, params = render(("/voice/gather?step=5", {"Digits": "2"}), Ids("CA" + "a" * 32, "+447911123456", "SM"), 5)
    signature = Signer()(path, params)
    validator = RequestValidator(TOKEN)
    url = BASE + path
    assert validator.validate(url, params, signature)

    turn = engine.step(flow, state, key_no, ctx)
    reply = {"say": [{"text": u.text, "emergency": u.emergency} for u in turn.say],
             "ask": {"node": turn.ask.node, "kind": turn.ask.kind, "keys": list(turn.ask.keys),
                     "hints": list(turn.ask.hints), "step": 6}, "hangup": False}
    sms = {"say": [{"text": u.text, "emergency": False} for u in turn.say]}

    results = {
        "engine_step_key": _time(lambda: engine.step(flow, state, key_no, ctx), repeat, min_seconds),
        "engine_step_words": _time(lambda: engine.step(flow, state, words, sms_ctx), repeat, min_seconds),
        "engine_state_round_trip": _time(lambda: engine.State.from_dict(state.to_dict()), repeat, min_seconds),
        "flow_load_and_validate": _time(lambda: load_checked_flows(str(flows_dir)), max(repeat // 2, 3),
                                        min_seconds),
        "signature_validate": _time(lambda: validator.validate(url, params, signature), repeat, min_seconds),
        "signature_compute": _time(lambda: validator.compute_signature(url, params), repeat, min_seconds),
        "twiml_voice_turn": _time(lambda: str(voice_reply(reply, "/voice/gather?step=6", "Polly.Amy")),
                                  repeat, min_seconds),
        "twiml_sms_reply": _time(lambda: str(sms_reply(sms)), repeat, min_seconds),
    }
    results["flow_load_and_validate"]["nodes"] = len(flow.nodes)
    return results


def webhooks_in_process(url: str, requests: int, templates: list) -> dict[str, float]:
    """Whole signed turns through the Flask app in-process (no gunicorn): wall and CPU µs per request."""
    import time

    from helpline import create_app

    from . import traffic

    app = create_app({"DATABASE_URL": url, "TWILIO_AUTH_TOKEN": TOKEN, "PUBLIC_BASE_URL": BASE,
                      "SECRET_KEY": "bench"})
    client = app.test_client()
    sign = Signer()
    stream = traffic.interleave(traffic.conversations(templates, traffic.Numbering()), 64, requests)
    signed = [(p, params, sign(p, params)) for p, params in stream]
    warm = max(requests // 10, 1)
    for p, params, s in signed[:warm]:
        client.post(p, data=params, headers={"X-Twilio-Signature": s})
    wall, cpu = time.perf_counter(), time.process_time()
    for p, params, s in signed[warm:]:
        response = client.post(p, data=params, headers={"X-Twilio-Signature": s})
        if response.status_code != 200:
            raise RuntimeError(f"{p} answered {response.status_code}")
    n = len(signed) - warm
    return {"requests": n, "wall_us": round((time.perf_counter() - wall) / n * 1e6, 1),
            "cpu_us": round((time.process_time() - cpu) / n * 1e6, 1)}
