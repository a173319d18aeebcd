"""Signed checkpoints: the key file, signatures, rotation, and verification against them."""

import stat
from dataclasses import replace
from pathlib import Path

import pytest

from qunping.core.checkpoints import (
    Checkpointer,
    Keyring,
    SigningKey,
    announcement,
    checkpoint_of,
    load_or_create_key,
    rotate_key,
    sign_head,
)
from qunping.core.envelope import NewEvent
from qunping.core.eventlog import LogHead
from qunping.core.memory_eventlog import InMemoryEventLog
from qunping.core.schemas import PayloadSchemas
from qunping.core.tamper import CHECKPOINT, register_tamper_events
from qunping.core.verify import RECENT, verify_signed

HEAD = LogHead(7, "ab" * 32)


def test_the_key_is_created_on_first_run_with_mode_0600_and_read_back_after(
    tmp_path: Path,
) -> None:
    path = tmp_path / "home" / "signing-key.pem"

    first = load_or_create_key(path)
    again = load_or_create_key(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.key_id == again.key_id and len(first.key_id) == 16


def test_a_checkpoint_verifies_under_its_key_and_fails_when_any_field_changes() -> None:
    key = SigningKey.generate()
    keyring = Keyring()
    keyring.learn(announcement("ballot", key))
    checkpoint = sign_head(key, "ballot", HEAD, "2026-01-01T00:00:00.000Z")

    assert keyring.check(checkpoint) is None
    for changed in (
        replace(checkpoint, position=8),
        replace(checkpoint, hash="cd" * 32),
        replace(checkpoint, log="tally"),
        replace(checkpoint, signed_at="2027-01-01T00:00:00.000Z"),
    ):
        assert "forged" in (keyring.check(changed) or "")


def test_a_checkpoint_signed_by_an_unknown_key_is_refused() -> None:
    keyring = Keyring()
    keyring.learn(announcement("ballot", SigningKey.generate()))

    refused = keyring.check(sign_head(SigningKey.generate(), "ballot", HEAD, "t"))

    assert refused is not None and "no trusted announcement" in refused


def test_a_rotated_key_is_trusted_through_the_old_keys_endorsement(tmp_path: Path) -> None:
    path = tmp_path / "signing-key.pem"
    old = load_or_create_key(path)
    rotated_old, new = rotate_key(path)
    keyring = Keyring()
    keyring.learn(announcement("ballot", old))

    assert rotated_old.key_id == old.key_id
    assert load_or_create_key(path).key_id == new.key_id
    assert keyring.learn(announcement("ballot", load_or_create_key(path))) is None
    assert keyring.check(sign_head(new, "ballot", HEAD, "t")) is None


def test_a_second_key_nobody_endorsed_is_refused() -> None:
    keyring = Keyring()
    keyring.learn(announcement("ballot", SigningKey.generate()))

    refused = keyring.learn(announcement("ballot", SigningKey.generate()))

    assert refused is not None and "endorsed by no trusted key" in refused


def signed_log(key: SigningKey) -> InMemoryEventLog:
    log = InMemoryEventLog("ballot", payload_schemas=None)
    checkpointer = Checkpointer(log, key)
    for n in range(1, 6):
        log.append(f"token-{n}", [NewEvent("BallotCast", {"n": n})])
        checkpointer.sign()
    return log


def test_the_checkpointer_announces_its_key_once_and_signs_only_a_grown_head() -> None:
    key = SigningKey.generate()
    log = signed_log(key)
    checkpointer = Checkpointer(log, key)

    assert checkpointer.sign() is None, "the head already is a checkpoint"
    kinds = [event.type for event in log.read_all()]
    assert kinds.count("SigningKeyAnnounced") == 1 and kinds.count(CHECKPOINT) == 5
    report = verify_signed(log.read_all, log="ballot")
    assert report.ok and report.signed_to == log.head().position - 1
    assert report.unsigned == (log.head().position, log.head().position)


def test_a_checkpoint_kept_outside_names_the_first_position_it_disagrees_with() -> None:
    key = SigningKey.generate()
    log = signed_log(key)
    kept = [checkpoint_of(e.data) for e in log.read_all() if e.type == CHECKPOINT]
    keys = [dict(e.data) for e in log.read_all() if e.type == "SigningKeyAnnounced"]
    rewritten = InMemoryEventLog("ballot")
    for event in log.read_all():
        if event.type == "BallotCast":
            rewritten.append(event.stream, [NewEvent("BallotCast", {"n": -event.data["n"]})])

    report = verify_signed(rewritten.read_all, log="ballot", kept=kept, kept_keys=keys)

    assert report.broken is not None
    assert (report.broken.position, report.broken.problem) == (kept[0].position, "rewritten")


def test_every_log_registry_carries_the_checkpoint_events() -> None:
    registry = register_tamper_events(PayloadSchemas())

    assert all(
        registry.is_public(kind) for kind in ("TamperDetected", CHECKPOINT, "SigningKeyAnnounced")
    )


@pytest.mark.parametrize("recent", [RECENT, 1], ids=["kept while walking", "read again"])
def test_a_checkpoint_in_the_log_that_disagrees_with_the_chain_names_the_position(
    monkeypatch: pytest.MonkeyPatch, recent: int
) -> None:
    monkeypatch.setattr("qunping.core.verify.RECENT", recent)
    key = SigningKey.generate()
    log = InMemoryEventLog("ballot")
    log.append("signingkey-ballot", [NewEvent("SigningKeyAnnounced", announcement("ballot", key))])
    for n in range(1, 4):
        log.append(f"token-{n}", [NewEvent("BallotCast", {"n": n})])
    signed_elsewhere = sign_head(key, "ballot", LogHead(3, "ab" * 32), "2026-01-01T00:00:00.000Z")
    log.append("checkpoint-ballot", [NewEvent(CHECKPOINT, signed_elsewhere.as_data())])

    report = verify_signed(log.read_all, log="ballot")

    assert report.broken is not None
    assert (report.broken.position, report.broken.problem) == (3, "rewritten")
