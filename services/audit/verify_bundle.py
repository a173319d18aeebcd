#!/usr/bin/env python3
"""Verify a qunping audit bundle on your own computer: python3 verify_bundle.py BUNDLE.jsonl

Standard library only, one file, no qunping code: it recomputes what qunping claims.
1. Each log's hash chain over the bundle's range: positions follow one another, each
   event names its predecessor's hash, and every event given in full hashes (SHA-256 of
   its canonical JSON) to exactly the hash the chain records. Events withheld for secrecy
   (the roster's names) appear as (position, stream, type, prev_hash, hash) only: the
   chain runs through them, so none can be added, removed or moved without breaking it.
2. Each published meeting result, recounted from the ballots in the bundle under the
   campaign's policy (the formulas of qunping's scoring, written out again here). A
   meeting's ballots come as one `ballots` line, sorted by content so that nothing shows
   the order they were cast in: their digest must be the one the meeting's close records
   in the chain, and their number the ballot events the chain holds for the meeting, so
   none can be altered, removed or added. (Meetings closed before the close recorded that
   digest have their ballot events in full instead, and are recounted from those.)
3. Each signed checkpoint (Ed25519, checked here in plain Python): those in the bundle,
   those you kept (--checkpoints FILE: the CheckpointSigned and SigningKeyAnnounced
   CloudEvents you received, one per line) and the one printed on the notice
   (--checkpoint qunping:checkpoint:...). A signature that does not hold, or a hash in the
   bundle that differs from the one a valid checkpoint signed, is a MISMATCH.
Compare the heads it prints with the log head hash on the printed notice (公示), or pass
them: --anchor ballot:POSITION:HASH. Exit status 0 and MATCH, or 1 and MISMATCH.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

GENESIS = "0" * 64
CLOSING_COUNTS = ("issued", "returned", "valid", "void", "blank", "reconciled")
"""What published results state of the close (the close also names its scrutineer)."""


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def event_hash(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(body)).hexdigest()


# -- 1. the chains -------------------------------------------------------------------


def check_chain(log: str, lines: Sequence[Mapping[str, Any]], head: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    previous: Mapping[str, Any] | None = None
    for line in lines:
        where = f"{log} position {line['position']}"
        if previous is not None:
            if line["position"] != previous["position"] + 1:
                problems.append(f"{where}: does not follow position {previous['position']}")
            if line["prev_hash"] != previous["hash"]:
                problems.append(f"{where}: does not chain to position {previous['position']}")
        elif line["position"] == 1 and line["prev_hash"] != GENESIS:
            problems.append(f"{where}: the first event must follow the genesis hash")
        body = line.get("event")
        if body is not None:
            stated = (log, line["position"], line["prev_hash"], line["stream"], line["type"])
            if (body["log"], body["position"], body["prev_hash"], body["stream"], body["type"]) != (
                stated
            ):
                problems.append(f"{where}: the event's log, position, stream or type differ")
            if event_hash(body) != line["hash"]:
                problems.append(f"{where}: altered (its content does not hash to its hash)")
        previous = line
    if previous is None or (previous["position"], previous["hash"]) != (
        head["position"],
        head["hash"],
    ):
        problems.append(f"{log}: the chain does not end at the head the bundle states")
    return problems


# -- 3. signed checkpoints (Ed25519 verification as in RFC 8032, section 6) -------------

_P = 2**255 - 19
_Q = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)
Point = tuple[int, int, int, int]


def _add(a: Point, b: Point) -> Point:
    e1 = (a[1] - a[0]) * (b[1] - b[0]) % _P
    e2 = (a[1] + a[0]) * (b[1] + b[0]) % _P
    c = 2 * a[3] * b[3] * _D % _P
    d = 2 * a[2] * b[2] % _P
    e, f, g, h = e2 - e1, d - c, d + c, e2 + e1
    return (e * f, g * h, f * g, e * h)


def _mul(scalar: int, point: Point) -> Point:
    result: Point = (0, 1, 1, 0)
    while scalar > 0:
        if scalar & 1:
            result = _add(result, point)
        point, scalar = _add(point, point), scalar >> 1
    return result


def _x_of(y: int, sign: int) -> int | None:
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P)
    if x2 % _P == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    return _P - x if (x & 1) != sign else x


def _point(encoded: bytes) -> Point | None:
    y = int.from_bytes(encoded, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    x = _x_of(y, sign)
    return None if x is None else (x, y, 1, x * y % _P)


_GY = 4 * pow(5, _P - 2, _P) % _P
_G: Point = (_x_of(_GY, 0) or 0, _GY, 1, (_x_of(_GY, 0) or 0) * _GY % _P)


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    if len(public) != 32 or len(signature) != 64:
        return False
    a, r = _point(public), _point(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= _Q:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little")
    left, right = _mul(s, _G), _add(r, _mul(h % _Q, a))
    return (left[0] * right[2] - right[0] * left[2]) % _P == 0 and (
        left[1] * right[2] - right[1] * left[2]
    ) % _P == 0


def checkpoints_in(
    records: Iterable[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(checkpoints, key announcements) among CloudEvents, bundle lines or bare data."""
    checkpoints: list[dict[str, Any]] = []
    keys: list[dict[str, Any]] = []
    for record in records:
        body = record.get("event") or record
        kind = str(body.get("type", "CheckpointSigned")).rsplit(".", 1)[-1]
        data = body.get("data", body)
        if kind == "CheckpointSigned":
            checkpoints.append(dict(data))
        elif kind == "SigningKeyAnnounced":
            keys.append(dict(data))
    return checkpoints, keys


def printed_checkpoint(text: str) -> dict[str, Any]:
    """The notice's QR text: qunping:checkpoint:LOG:POSITION:HASH:KEY:SIGNATURE:SIGNED_AT."""
    _, kind, log, position, hash_, key_id, signature, signed_at = text.split(":", 7)
    if kind != "checkpoint":
        raise ValueError(f"not a printed checkpoint: {text[:40]}")
    return {
        "log": log,
        "position": int(position),
        "hash": hash_,
        "key_id": key_id,
        "signature": signature,
        "signed_at": signed_at,
    }


def check_checkpoints(
    by_log: Mapping[str, Sequence[Mapping[str, Any]]],
    checkpoints: Sequence[Mapping[str, Any]],
    keys: Sequence[Mapping[str, Any]],
) -> list[str]:
    """Keys: the first of a log stands on its own, a later one needs its predecessor's
    endorsement. Each checkpoint must be signed by a known key, and the bundle must hold
    the hash it signed at its position (when the bundle covers that position)."""
    trusted: dict[str, bytes] = {}
    problems = []
    for key in keys:
        public = bytes.fromhex(key["public_key"])
        if key["key_id"] in trusted:
            continue
        endorser = trusted.get(key.get("endorsed_by") or "")
        if hashlib.sha256(public).hexdigest()[:16] != key["key_id"]:
            problems.append(f"key {key['key_id']}: not the id of its public key")
        elif trusted and not (
            endorser is not None
            and ed25519_verify(
                endorser,
                canonical_json({"endorse": key["public_key"]}),
                bytes.fromhex(key.get("endorsement") or ""),
            )
        ):
            problems.append(f"key {key['key_id']}: endorsed by no trusted key")
        else:
            trusted[key["key_id"]] = public
    for checkpoint in checkpoints:
        where = f"{checkpoint['log']} position {checkpoint['position']}"
        signed = {k: checkpoint[k] for k in ("log", "position", "hash", "signed_at", "key_id")}
        signer = trusted.get(checkpoint["key_id"])
        if signer is None or not ed25519_verify(
            signer, canonical_json(signed), bytes.fromhex(checkpoint["signature"])
        ):
            problems.append(f"{where}: the checkpoint's signature does not hold (forged)")
            continue
        held = {line["position"]: line["hash"] for line in by_log.get(checkpoint["log"], [])}
        if checkpoint["position"] in held and held[checkpoint["position"]] != checkpoint["hash"]:
            problems.append(
                f"{where}: differs from the hash signed at {checkpoint['signed_at']} "
                "(the log was rewritten)"
            )
    return problems


# -- 2. the results (qunping's scoring) -----------------------------------------------


def percent(favourable: int, valid: int) -> str | None:
    if valid == 0:
        return None
    value = Decimal(favourable * 100) / Decimal(valid)
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def rates_of(rates: Mapping[str, Sequence[str]], counts: Mapping[str, int]) -> dict[str, Any]:
    valid = sum(counts.values())
    found = {}
    for name, values in rates.items():
        favourable = sum(counts[value] for value in values)
        found[name] = {
            "favourable": favourable,
            "valid": valid,
            "percent": percent(favourable, valid),
        }
    return found


def judge(
    policy: Mapping[str, Any], kinds: Mapping[str, str], marks: Sequence[Mapping[str, str]]
) -> tuple[dict[tuple[str, str], str], set[tuple[str, str]], set[tuple[str, str]], bool, bool]:
    """(ratings, abstained, void items, whole ballot void, blank) of one ballot."""
    if not marks:
        return {}, set(), set(), False, True
    by_item: dict[tuple[str, str], list[str]] = {}
    for mark in marks:
        by_item.setdefault((mark["subject"], mark["dimension"]), []).append(mark["value"])
    ratings: dict[tuple[str, str], str] = {}
    abstained: set[tuple[str, str]] = set()
    void_items: set[tuple[str, str]] = set()
    for item, values in by_item.items():
        scale = policy["scales"][policy["kinds"][kinds[item[0]]]["scale"]]
        if len(values) != 1:
            void_items.add(item)
        elif values[0] in scale["values"]:
            ratings[item] = values[0]
        elif values[0] in scale["abstain"]:
            abstained.add(item)
        else:
            void_items.add(item)
    if void_items and policy["invalid_mark_voids"] == "ballot":
        return {}, set(), void_items, True, False
    return ratings, abstained, void_items, False, False


def meeting_results(
    policy: Mapping[str, Any],
    subjects: Sequence[Mapping[str, Any]],
    ballots: Iterable[Sequence[Mapping[str, str]]],
) -> dict[str, Any]:
    kinds = {subject["id"]: subject["kind"] for subject in subjects}
    counts: dict[tuple[str, str], dict[str, int]] = {}
    abstained: dict[tuple[str, str], int] = {}
    void_items: dict[tuple[str, str], int] = {}
    marked: dict[tuple[str, str], int] = {}
    returned = void_ballots = blank = 0
    for marks in ballots:
        returned += 1
        ratings, abstains, voids, void, is_blank = judge(policy, kinds, marks)
        if void:
            void_ballots += 1
            continue
        blank += is_blank
        for item, value in ratings.items():
            tally = counts.setdefault(item, {})
            tally[value] = tally.get(value, 0) + 1
        for item in abstains:
            abstained[item] = abstained.get(item, 0) + 1
        for item in voids:
            void_items[item] = void_items.get(item, 0) + 1
        for item in set(ratings) | abstains | voids:
            marked[item] = marked.get(item, 0) + 1
    results = []
    for subject in subjects:
        kind = policy["kinds"][subject["kind"]]
        scale = policy["scales"][kind["scale"]]
        rates = policy["rates"][kind["scale"]]
        overall = dict.fromkeys(scale["values"], 0)
        dimensions = []
        for dimension in kind["dimensions"]:
            item = (subject["id"], dimension)
            by_value = {value: counts.get(item, {}).get(value, 0) for value in scale["values"]}
            for value, count in by_value.items():
                overall[value] += count
            dimensions.append(
                {
                    "dimension": dimension,
                    "counts": by_value,
                    "valid": sum(by_value.values()),
                    "abstained": abstained.get(item, 0),
                    # A ballot void as a whole voids each of its items; an item no mark
                    # names is blank: valid + abstained + void + blank = returned.
                    "void": void_items.get(item, 0) + void_ballots,
                    "blank": returned - void_ballots - marked.get(item, 0),
                    "rates": rates_of(rates, by_value),
                }
            )
        overall_rates = rates_of(rates, overall)
        flagged = False
        if "unfit" in rates:
            numerator, denominator = policy["flag_unfit_share"]
            unfit = overall_rates["unfit"]
            flagged = unfit["valid"] > 0 and unfit["favourable"] * denominator >= (
                numerator * unfit["valid"]
            )
        results.append(
            {
                "subject_id": subject["id"],
                "kind": subject["kind"],
                "name": subject["name"],
                "headline": kind["headline"],
                "dimensions": dimensions,
                "counts": overall,
                "valid": sum(overall.values()),
                "rates": overall_rates,
                "flagged": flagged,
            }
        )
    return {
        "returned": returned,
        "void_ballots": void_ballots,
        "blank_ballots": blank,
        "subjects": results,
    }


def as_version_1(results: Mapping[str, Any]) -> dict[str, Any]:
    """Results as `ResultsPublished` v1 stated them: no blank per item, and an item's void
    without the ballots void as a whole."""
    subjects = []
    for subject in results["subjects"]:
        dimensions = []
        for dimension in subject["dimensions"]:
            old = {key: value for key, value in dimension.items() if key != "blank"}
            old["void"] = dimension["void"] - results["void_ballots"]
            dimensions.append(old)
        subjects.append({**subject, "dimensions": dimensions})
    return {**results, "subjects": subjects}


def marks_of(ballot: Mapping[str, Any]) -> list[dict[str, str]]:
    """A ballot's marks; schema version 1 kept them as a mapping `subject.dimension` -> value."""
    if ballot["schema_version"] == 1:
        return [
            {"subject": item.split(".", 1)[0], "dimension": item.split(".", 1)[1], "value": value}
            for item, value in ballot["data"]["marks"].items()
        ]
    return list(ballot["data"]["marks"])


def canonical_ballots(ballots: Iterable[Sequence[Mapping[str, str]]]) -> list[list[Any]]:
    """Each ballot's marks sorted, the ballots sorted by their canonical JSON: the ballot
    service's own rule (services/ballot/judgement.py) written out again, as everything here
    is, so that this file needs nothing of qunping; a unit test keeps the two equal."""
    ordered = [
        sorted(
            (
                {"subject": m["subject"], "dimension": m["dimension"], "value": m["value"]}
                for m in b
            ),
            key=lambda mark: (mark["subject"], mark["dimension"], mark["value"]),
        )
        for b in ballots
    ]
    return sorted(ordered, key=canonical_json)


def ballots_digest(ballots: Iterable[Sequence[Mapping[str, str]]]) -> str:
    return hashlib.sha256(canonical_json(canonical_ballots(ballots))).hexdigest()


def committed_ballots(
    where: str,
    ballot_lines: Sequence[Mapping[str, Any]],
    closing: Mapping[str, Any],
    box: Sequence[Sequence[Mapping[str, str]]] | None,
) -> tuple[list[Any], list[str]]:
    """A meeting's sorted ballots, checked against the digest and count in the chain."""
    data = closing["data"]
    if box is None:
        return [], [f"{where}: the bundle lacks the meeting's ballots"]
    problems = []
    if ballots_digest(box) != data["ballots_digest"]:
        problems.append(
            f"{where}: the ballots in the bundle are not those the close committed to "
            "(one altered, removed or added)"
        )
    cast = sum(
        1
        for line in ballot_lines
        if line["stream"] == f"ballotbox-{data['meeting_id']}"
        and line["type"] == "BallotCast"
        and line["position"] < closing["position"]
    )
    if not len(box) == cast == data["returned"]:
        problems.append(
            f"{where}: {len(box)} ballots in the bundle, {cast} cast in the chain, "
            f"{data['returned']} returned at the close"
        )
    return list(box), problems


def check_results(
    ballot_lines: Sequence[Mapping[str, Any]],
    published: Mapping[str, Any],
    boxes: Mapping[str, Sequence[Sequence[Mapping[str, str]]]],
) -> list[str]:
    data = published["data"]
    meeting_id = data["meeting_id"]
    where = f"results of meeting {meeting_id}"
    by_position = {line["position"]: line for line in ballot_lines}
    closing = by_position.get(data["source_position"])
    if closing is None or closing["hash"] != data["source_hash"]:
        return [f"{where}: computed at ballot position {data['source_position']}, not in the chain"]
    bodies = [line["event"] for line in ballot_lines if line.get("event") is not None]
    campaign = next(
        (
            e["data"]
            for e in bodies
            if e["type"] == "CampaignCreated" and e["data"]["campaign_id"] == data["campaign_id"]
        ),
        None,
    )
    meeting = next(
        (
            e["data"]
            for e in bodies
            if e["type"] == "MeetingScheduled" and e["data"]["meeting_id"] == meeting_id
        ),
        None,
    )
    if campaign is None or meeting is None:
        return [f"{where}: the bundle lacks its campaign or its meeting"]
    closing_body = closing.get("event")
    problems: list[str] = []
    if closing_body is not None and closing_body["data"].get("ballots_digest") is not None:
        ballots, problems = committed_ballots(
            where, ballot_lines, closing_body, boxes.get(meeting_id)
        )
    else:
        withheld = [
            line["position"]
            for line in ballot_lines
            if line["stream"] == f"ballotbox-{meeting_id}" and line.get("event") is None
        ]
        if withheld:
            return [f"{where}: ballots at positions {withheld} are withheld from the bundle"]
        ballots = [
            marks_of(e)
            for e in bodies
            if e["type"] == "BallotCast"
            and e["stream"] == f"ballotbox-{meeting_id}"
            and e["position"] < data["source_position"]
        ]
    recounted = meeting_results(campaign["policy"], meeting["subjects"], ballots)
    if published.get("schema_version", 1) == 1:
        recounted = as_version_1(recounted)
    if canonical_json(recounted) != canonical_json(data["results"]):
        problems.append(f"{where}: the ballots in the bundle recount to different results")
    if closing_body is None or closing_body["type"] != "VotingClosed":
        problems.append(f"{where}: the closing event is not in the bundle")
    else:
        stated = {k: v for k, v in closing_body["data"].items() if k in CLOSING_COUNTS}
        if stated != data["closing"]:
            problems.append(f"{where}: the closing counts differ from the ballot log's")
    return problems


# -- the whole bundle ----------------------------------------------------------------


def verify(
    lines: Sequence[Mapping[str, Any]],
    anchors: Sequence[str] = (),
    kept: Sequence[Mapping[str, Any]] = (),
) -> list[str]:
    """`kept`: signed checkpoints and key announcements from outside the bundle."""
    header, rest = lines[0], lines[1:]
    if header.get("kind") != "bundle" or header.get("format") not in (1, 2):
        return ["not a qunping audit bundle (format 1 or 2)"]
    by_log: dict[str, list[Mapping[str, Any]]] = {}
    boxes: dict[str, Sequence[Sequence[Mapping[str, str]]]] = {}
    problems = []
    for line in rest:
        if line.get("kind") == "ballots":
            if line["meeting_id"] in boxes:
                problems.append(f"meeting {line['meeting_id']}: two ballots lines")
            boxes[line["meeting_id"]] = line["ballots"]
        else:
            by_log.setdefault(line["log"], []).append(line)
    for log, stated in header["logs"].items():
        problems += check_chain(log, by_log.get(log, []), stated["head"])
    for anchor in anchors:
        log, position, hash_ = anchor.split(":")
        held = {line["position"]: line["hash"] for line in by_log.get(log, [])}
        if held.get(int(position)) != hash_:
            problems.append(f"{log} position {position}: not the hash vouched for ({hash_[:16]}…)")
    kept_checkpoints, kept_keys = checkpoints_in(kept)
    bundled_checkpoints, bundled_keys = checkpoints_in(
        line for line in rest if line.get("event") is not None
    )
    # Keys you kept come first: the bundle's own first key is trusted only without them.
    stated_keys = [key for keys in header.get("keys", {}).values() for key in keys]
    problems += check_checkpoints(
        by_log, bundled_checkpoints + kept_checkpoints, kept_keys + stated_keys + bundled_keys
    )
    for line in by_log.get("tally", []):
        body = line.get("event")
        if body is not None and body["type"] == "ResultsPublished":
            problems += check_results(by_log.get("ballot", []), body, boxes)
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("bundle")
    parser.add_argument("--anchor", action="append", default=[], metavar="LOG:POSITION:HASH")
    parser.add_argument("--checkpoints", metavar="FILE", help="signed checkpoints you kept")
    parser.add_argument(
        "--checkpoint", action="append", default=[], metavar="TEXT", help="the notice's QR text"
    )
    arguments = parser.parse_args(argv)
    with open(arguments.bundle, encoding="utf-8") as file:
        lines = [json.loads(line) for line in file if line.strip()]
    kept: list[Mapping[str, Any]] = [printed_checkpoint(text) for text in arguments.checkpoint]
    if arguments.checkpoints:
        with open(arguments.checkpoints, encoding="utf-8") as file:
            kept += [json.loads(line) for line in file if line.strip()]
    problems = verify(lines, arguments.anchor, kept)
    for log, stated in lines[0].get("logs", {}).items():
        print(f"{log}: head position {stated['head']['position']} hash {stated['head']['hash']}")
    results = sum(
        1 for line in lines[1:] if (line.get("event") or {}).get("type") == "ResultsPublished"
    )
    print(f"{results} published result(s) recounted")
    for problem in problems:
        print(f"  {problem}")
    print("MISMATCH" if problems else "MATCH")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
