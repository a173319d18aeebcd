"""A real SMTP server (aiosmtpd) in a process of its own, writing each message it accepts
as a JSON line: `python -m tests.integration.notify.smtp_sink PORT OUTFILE USER PASSWORD`.

It runs apart from the test process because aiosmtpd needs plain asyncio, and the test
process is eventlet-patched for nameko.
"""

import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, out: Path) -> None:
        self.out = out

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802  (aiosmtpd hook)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "login": session.auth_data,
            "data": envelope.content.decode("utf-8"),
        }
        with self.out.open("a", encoding="utf-8") as file:
            file.write(json.dumps(record, ensure_ascii=False) + "\n")
        return "250 Message accepted for delivery"


def main() -> None:
    port, out, user, password = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (user, password)
        return AuthResult(success=ok, auth_data=auth_data.login.decode() if ok else None)

    # No TLS in this test server: the test is of recipients, subject, body and login.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    controller = Controller(
        Sink(out),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
