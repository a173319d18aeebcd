"""Voters casting over HTTP, for locust (run by `python -m bench.gateway`, not on its own).

Each voter casts with the next unused token of the plan that bench.gateway wrote
(QUNPING_BENCH_PLAN: the meeting, the tokens, the marks, where to write the accept times).
How the voters arrive (QUNPING_BENCH_ARRIVALS):
- `saturate`: each voter casts again as soon as its last cast is answered;
- `poisson`: each voter casts at random, on average QUNPING_BENCH_CASTS_PER_VOTER_PER_SECOND
  times a second, independently of the others (also the first time), so together they
  arrive as a Poisson stream, the way people who do not see each other do;
- `burst`: every voter casts at the same moment, every QUNPING_BENCH_BURST_SECONDS, the
  room's worst case ("vote now!"); locust starts them all at once.
A voter stops after QUNPING_BENCH_CASTS_PER_VOTER casts, if that is set. The wall-clock time
of each accepted cast is written out at the end, for the cast-to-board latency.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import Any

from locust import FastHttpUser, constant, constant_pacing, events, poisson, task
from locust.exception import StopUser

plan = json.loads(Path(os.environ["QUNPING_BENCH_PLAN"]).read_text())
unused_tokens = iter(plan["tokens"])
accepted_at: list[float] = []
arrivals = os.environ.get("QUNPING_BENCH_ARRIVALS", "saturate")
pace = float(os.environ.get("QUNPING_BENCH_CASTS_PER_VOTER_PER_SECOND", "1"))
burst_seconds = float(os.environ.get("QUNPING_BENCH_BURST_SECONDS", "3"))
casts_per_voter = int(os.environ.get("QUNPING_BENCH_CASTS_PER_VOTER", "0"))
WAIT_TIMES = {
    "saturate": constant(0),
    "poisson": poisson(pace),
    "burst": constant_pacing(burst_seconds),
}


class Voter(FastHttpUser):
    wait_time = WAIT_TIMES[arrivals]

    def on_start(self) -> None:
        self.casts = 0
        if arrivals == "poisson":
            # A Poisson stream's first arrival is as random as the rest: without this wait
            # every voter would cast once as locust starts it, a burst at the start. (locust
            # has gevent patch time.sleep, so this voter waits and the others go on.)
            time.sleep(random.expovariate(pace))

    @task
    def cast(self) -> None:
        if casts_per_voter and self.casts >= casts_per_voter:
            raise StopUser()
        self.casts += 1
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
