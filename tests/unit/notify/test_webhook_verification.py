"""The receiver-side check the README documents refuses forged and replayed deliveries.

The check is taken from the README itself, so the documentation is what is tested."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.notify.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers

README = Path(__file__).resolve().parents[3] / "README.md"
SECRET = "s3cr3t-shared-with-the-receiver"
BODY = b'{"id":"e1","type":"qunping.tally.ResultsPublished","data":{"meeting_id":"m"}}'


def documented_verify() -> Callable[..., bool]:
    [code] = [
        block
        for block in re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
        if "def verify(" in block
    ]
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    verify: Callable[..., bool] = namespace["verify"]
    return verify


def test_a_genuine_fresh_delivery_passes_the_documented_check() -> None:
    headers = signed_headers(SECRET, int(time.time()), BODY)

    assert documented_verify()(SECRET, headers, BODY)


def test_forged_signatures_fail_the_documented_check() -> None:
    verify = documented_verify()
    now = int(time.time())
    genuine = signed_headers(SECRET, now, BODY)
    forgeries = [
        (signed_headers("a-guessed-secret-value", now, BODY), BODY),
        (genuine, BODY.replace(b'"m"', b'"n"')),
        ({**genuine, TIMESTAMP_HEADER: str(now - 1)}, BODY),
        ({**genuine, SIGNATURE_HEADER: genuine[SIGNATURE_HEADER].replace("v1=", "v0=")}, BODY),
        ({**genuine, SIGNATURE_HEADER: "v1=" + "0" * 64}, BODY),
        ({**genuine, SIGNATURE_HEADER: ""}, BODY),
    ]

    assert [verify(SECRET, headers, body) for headers, body in forgeries] == [False] * 6


def test_a_delivery_replayed_outside_the_tolerance_fails_the_documented_check() -> None:
    verify = documented_verify()
    captured = signed_headers(SECRET, int(time.time()) - 301, BODY)
    from_the_future = signed_headers(SECRET, int(time.time()) + 301, BODY)

    assert not verify(SECRET, captured, BODY)
    assert not verify(SECRET, from_the_future, BODY)
    assert verify(SECRET, captured, BODY, tolerance=400), "only its age refused it"
