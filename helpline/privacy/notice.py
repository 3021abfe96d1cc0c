"""The privacy notice: where people read how their answers are used.

The flow's wording says "{privacy_url}" and the address is a setting, filled in once at
start-up: the flow stays one file a clinician reads, and each deployment names its own page.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from ..engine.flow import Flow, Text

PLACEHOLDER = "{privacy_url}"
# With no address configured at all (a laptop), say where in words rather than leave a gap.
NOWHERE = "the help line's website"


def privacy_url(config: Mapping[str, Any]) -> str:
    """PRIVACY_URL, else this service's own /privacy page when its public address is known."""
    if config.get("PRIVACY_URL"):
        return config["PRIVACY_URL"]
    if config.get("PUBLIC_BASE_URL"):
        return config["PUBLIC_BASE_URL"].rstrip("/") + "/privacy"
    return ""


def spoken(url: str) -> str:
    """A web address as a voice reads it best: no https://, no www., no trailing slash."""
    for prefix in ("https://", "http://"):
        url = url.removeprefix(prefix)
    return url.removeprefix("www.").rstrip("/")


def _fill(text: Text, url: str) -> Text:
    if PLACEHOLDER not in text.voice and PLACEHOLDER not in text.sms:
        return text
    return Text(voice=text.voice.replace(PLACEHOLDER, spoken(url) if url else NOWHERE),
                sms=text.sms.replace(PLACEHOLDER, url or NOWHERE))


def with_privacy_url(flows: Mapping[str, Flow], url: str) -> dict[str, Flow]:
    """The flows with the privacy notice's address written into their wording."""
    filled = {}
    for flow_id, flow in flows.items():
        nodes = {node_id: replace(node, text=_fill(node.text, url)) for node_id, node in flow.nodes.items()}
        filled[flow_id] = replace(flow, nodes=nodes)
    return filled
