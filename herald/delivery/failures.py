"""How a delivery attempt failed, in AWS's two kinds ("Amazon SNS dead-letter queues").

A client-side failure (the endpoint is gone, refuses SNS, or rejects the request) is not
retried; a server-side one (the endpoint is unreachable, or fails to process the request)
is retried by the subscription's policy. Either ends in the dead-letter queue when the
subscription has one.
"""

from __future__ import annotations


class DeliveryFailed(Exception):
    def __init__(self, code: str, message: str, *, client_side: bool) -> None:
        super().__init__(message)
        self.code = code  # for the dead-letter queue's ErrorCode: an HTTP status or a name
        self.message = message
        self.client_side = client_side
