"""Voters casting over HTTP, for locust (run by `python -m bench.gateway`, not on its own).

Each voter casts with the next unused token of the plan that bench.gateway wrote
(QUNPING_BENCH_PLAN: the meeting, the tokens, the marks, where to write the accept times),
as fast as it can or at QUNPING_BENCH_CASTS_PER_VOTER_PER_SECOND. The wall-clock time of
each accepted cast is written out at the end, for the cast-to-board latency.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from locust import FastHttpUser, constant, constant_throughput, events, task

plan = json.loads(Path(os.environ["QUNPING_BENCH_PLAN"]).read_text())
unused_tokens = iter(plan["tokens"])
accepted_at: list[float] = []
pace = float(os.environ.get("QUNPING_BENCH_CASTS_PER_VOTER_PER_SECOND", "0"))


class Voter(FastHttpUser):
    wait_time = constant_throughput(pace) if pace else constant(0)

    @task
    def cast(self) -> None:
        token = next(unused_tokens, None)
        if token is None:
            raise RuntimeError("the plan ran out of tokens: give bench.gateway more")
        with self.client.post(
            f"/api/meetings/{plan['meeting_id']}/ballots",
            json={"token": token, "marks": plan["marks"]},
            name="cast",
            catch_response=True,
        ) as response:
            if response.status_code == 200:
                accepted_at.append(time.time())
            else:
                response.failure(f"{response.status_code} {response.text}")


def write_accept_times(**_: Any) -> None:
    Path(plan["accepted_file"]).write_text(json.dumps(accepted_at))


# locust's event hooks carry no annotations.
events.quitting.add_listener(write_accept_times)  # type: ignore[no-untyped-call]
