"""The Argo Events webhook client: POST the confirmed scan with the EventSource's bearer token."""

from __future__ import annotations

from dataclasses import dataclass

import requests

from lib.core.pipeline import WEBHOOK_MAX_PAYLOAD_BYTES as MAX_PAYLOAD_BYTES
from lib.core.pipeline import WebhookPayload


class WebhookError(Exception):
    """The webhook did not accept the event; the message says why, for the scan's "waiting to start" note."""


@dataclass(frozen=True)
class Webhook:
    url: str
    token: str
    timeout: float = 10.0

    def deliver(self, payload: WebhookPayload) -> None:
        body = payload.encoded()
        if len(body) > MAX_PAYLOAD_BYTES:
            raise WebhookError(f"the request is {len(body)} bytes, over the webhook's {MAX_PAYLOAD_BYTES}")
        try:
            resp = requests.post(
                self.url,
                data=body,
                timeout=self.timeout,
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
            )
        except requests.RequestException as e:
            raise WebhookError(f"webhook unreachable: {type(e).__name__}") from None
        if not 200 <= resp.status_code < 300:
            raise WebhookError(f"webhook answered {resp.status_code}: {resp.text[:200].strip()}")
