"""notify's delivery records in MongoDB: webhook deliveries, every attempt, e-mails, secrets.

These are operational records, not facts, so they live in collections beside notify's
log. A delivery is created once per (subscription, event id), so a duplicate from the
broker changes nothing; `seq` orders a subscription's deliveries as they arrived, and only
the oldest pending one of a subscription is ever attempted (order is kept per subscription).
A claim (`claimed_until`) keeps two notify replicas from attempting the same delivery.
Each record names the district it belongs to (its subscription's, its recipients'); a
query for a district's sees only those, and another district's delivery is not found.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from qunping.core.envelope import format_time, utc_now
from qunping.core.errors import NotFound, Refused
from qunping.core.metrics import Reading
from services.notify.domain import DEAD, DELIVERED, PENDING


def _public(document: dict[str, Any]) -> dict[str, Any]:
    """A record as RPC returns it: JSON types only, times as UTC text."""
    return {
        key: format_time(value) if isinstance(value, datetime) else value
        for key, value in document.items()
        if key not in {"_id", "claimed_until"}
    }


class Outbox:
    def __init__(self, database: Database[dict[str, Any]]) -> None:
        self.deliveries = database["webhook_deliveries"]
        self.attempts = database["webhook_attempts"]
        self.secrets = database["webhook_secrets"]
        self.counters = database["webhook_counters"]
        self.emails = database["emails"]

    def ensure_indexes(self) -> None:
        self.deliveries.create_index(
            [("subscription_id", ASCENDING), ("event_id", ASCENDING)], unique=True
        )
        self.deliveries.create_index([("subscription_id", ASCENDING), ("seq", ASCENDING)])
        self.deliveries.create_index([("status", ASCENDING)])
        self.attempts.create_index([("delivery_id", ASCENDING), ("attempt", ASCENDING)])
        self.attempts.create_index([("subscription_id", ASCENDING), ("started_at", ASCENDING)])
        self.emails.create_index([("status", ASCENDING)])
        # A district's lists, newest (attempts: oldest) first.
        for collection, time in (
            (self.deliveries, "created_at"),
            (self.attempts, "started_at"),
            (self.emails, "created_at"),
        ):
            collection.create_index([("district", ASCENDING), (time, DESCENDING)])

    def readings(self) -> list[Reading]:
        """Webhook deliveries and e-mails waiting (pending) and given up (dead)."""
        readings = []
        for name, collection, what in (
            ("qunping_webhook_deliveries", self.deliveries, "Webhook deliveries"),
            ("qunping_emails", self.emails, "E-mails"),
        ):
            for status in (PENDING, DEAD):
                count = collection.count_documents({"status": status})
                help_text = f"{what} by status: pending (waiting or retrying) or dead (gave up)"
                readings.append(Reading(name, help_text, {"status": status}, count))
        return readings

    # -- secrets ---------------------------------------------------------------------

    def store_secret(self, subscription_id: str, secret: str) -> None:
        self.secrets.replace_one({"_id": subscription_id}, {"secret": secret}, upsert=True)

    def secret(self, subscription_id: str) -> str | None:
        document = self.secrets.find_one({"_id": subscription_id})
        return None if document is None else str(document["secret"])

    # -- webhook deliveries ----------------------------------------------------------

    def enqueue(
        self,
        subscription_id: str,
        district: str | None,
        event_id: str,
        routing_key: str,
        body: str,
    ) -> bool:
        """Record a delivery to make; False if this event was already queued for it."""
        if self.deliveries.find_one(
            {"subscription_id": subscription_id, "event_id": event_id}, {"_id": 1}
        ):
            return False
        counter = self.counters.find_one_and_update(
            {"_id": subscription_id},
            {"$inc": {"seq": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        now = utc_now()
        try:
            self.deliveries.insert_one(
                {
                    "_id": uuid.uuid4().hex,
                    "subscription_id": subscription_id,
                    "district": district,
                    "event_id": event_id,
                    "routing_key": routing_key,
                    "seq": counter["seq"],
                    "body": body,
                    **_not_yet_tried(now),
                    "delivered_at": None,
                }
            )
        except DuplicateKeyError:
            return False
        return True

    def heads(self) -> list[dict[str, Any]]:
        """The oldest pending delivery of each subscription that has one."""
        heads = []
        for subscription_id in self.deliveries.distinct("subscription_id", {"status": PENDING}):
            head = self.deliveries.find_one(
                {"subscription_id": subscription_id, "status": PENDING},
                sort=[("seq", ASCENDING)],
            )
            if head is not None:
                heads.append(head)
        return heads

    def claim(self, delivery: dict[str, Any], until: datetime) -> bool:
        now = utc_now()
        claimed = self.deliveries.find_one_and_update(
            {
                "_id": delivery["_id"],
                "status": PENDING,
                "$or": [{"claimed_until": None}, {"claimed_until": {"$lt": now}}],
            },
            {"$set": {"claimed_until": until}},
        )
        return claimed is not None

    def record_attempt(
        self,
        delivery: dict[str, Any],
        *,
        attempt: int,
        started_at: datetime,
        duration_ms: int,
        status_code: int | None,
        error: str | None,
        outcome: str,
    ) -> None:
        self.attempts.insert_one(
            {
                "delivery_id": delivery["_id"],
                "subscription_id": delivery["subscription_id"],
                "district": delivery.get("district"),
                "event_id": delivery["event_id"],
                "attempt": attempt,
                "started_at": started_at,
                "duration_ms": duration_ms,
                "status_code": status_code,
                "error": error,
                "outcome": outcome,
            }
        )

    def settle(
        self,
        delivery: dict[str, Any],
        attempt: int,
        status: str,
        error: str | None,
        retry_in: float | None = None,
    ) -> None:
        now = utc_now()
        update: dict[str, Any] = {
            "status": status,
            "attempts": attempt,
            "last_error": error,
            "claimed_until": None,
        }
        if status == DELIVERED:
            update["delivered_at"] = now
        if retry_in is not None:
            update["next_attempt_at"] = now + timedelta(seconds=retry_in)
        self.deliveries.update_one({"_id": delivery["_id"]}, {"$set": update})

    # -- queries and the dead-letter list --------------------------------------------

    def list_deliveries(
        self, district: str | None, subscription_id: str | None, status: str | None, limit: int
    ) -> list[dict[str, Any]]:
        query = _of(district)
        if subscription_id is not None:
            query["subscription_id"] = subscription_id
        if status is not None:
            query["status"] = status
        return [
            {"delivery_id": document["_id"], **_public(document)}
            for document in self.deliveries.find(
                query, {"body": 0}, sort=[("created_at", DESCENDING)]
            ).limit(limit)
        ]

    def list_attempts(
        self, district: str | None, subscription_id: str | None, delivery_id: str | None, limit: int
    ) -> list[dict[str, Any]]:
        query = _of(district)
        if subscription_id is not None:
            query["subscription_id"] = subscription_id
        if delivery_id is not None:
            query["delivery_id"] = delivery_id
        return [
            _public(document)
            for document in self.attempts.find(
                query, sort=[("started_at", ASCENDING), ("attempt", ASCENDING)]
            ).limit(limit)
        ]

    def redeliver(self, delivery_id: str, district: str) -> None:
        """Put a dead letter of `district` back in its subscription's queue.

        The queue is ordered by arrival, so it goes out before anything that arrived after
        it and is still pending.
        """
        document = self.deliveries.find_one(
            {"_id": delivery_id, "district": district}, {"status": 1}
        )
        if document is None:
            raise NotFound(f"delivery {delivery_id}")
        if document["status"] != DEAD:
            raise Refused(f"delivery {delivery_id} is {document['status']}, not dead")
        self.deliveries.update_one(
            {"_id": delivery_id, "status": DEAD},
            {"$set": {"status": PENDING, "attempts": 0, "next_attempt_at": utc_now()}},
        )

    # -- e-mails ---------------------------------------------------------------------

    def enqueue_email(
        self,
        email_id: str,
        district: str | None,
        rule: str,
        to: list[str],
        *,
        subject: str,
        body: str,
    ) -> bool:
        """Record an e-mail to send to `district`'s addresses (None: the platform's)."""
        now = utc_now()
        try:
            self.emails.insert_one(
                {
                    "_id": email_id,
                    "district": district,
                    "rule": rule,
                    "to": to,
                    "subject": subject,
                    "body": body,
                    **_not_yet_tried(now),
                }
            )
        except DuplicateKeyError:
            return False
        return True

    def emails_due(self) -> list[dict[str, Any]]:
        now = utc_now()
        return list(
            self.emails.find(
                {
                    "status": PENDING,
                    "next_attempt_at": {"$lte": now},
                    "$or": [{"claimed_until": None}, {"claimed_until": {"$lt": now}}],
                }
            ).limit(100)
        )

    def claim_email(self, email: dict[str, Any], until: datetime) -> bool:
        now = utc_now()
        return (
            self.emails.find_one_and_update(
                {
                    "_id": email["_id"],
                    "status": PENDING,
                    "$or": [{"claimed_until": None}, {"claimed_until": {"$lt": now}}],
                },
                {"$set": {"claimed_until": until}},
            )
            is not None
        )

    def settle_email(
        self, email: dict[str, Any], attempt: int, status: str, error: str | None, retry_in: float
    ) -> None:
        self.emails.update_one(
            {"_id": email["_id"]},
            {
                "$set": {
                    "status": status,
                    "attempts": attempt,
                    "last_error": error,
                    "claimed_until": None,
                    "next_attempt_at": utc_now() + timedelta(seconds=retry_in),
                }
            },
        )

    def list_emails(
        self, district: str | None, status: str | None, limit: int
    ) -> list[dict[str, Any]]:
        query = _of(district)
        if status is not None:
            query["status"] = status
        return [
            {"email_id": document["_id"], **_public(document)}
            for document in self.emails.find(query, sort=[("created_at", DESCENDING)]).limit(limit)
        ]


def _of(district: str | None) -> dict[str, Any]:
    """A query for one district's records; None: every district's (the operator's)."""
    return {} if district is None else {"district": district}


def _not_yet_tried(now: datetime) -> dict[str, Any]:
    """The retry state every delivery and e-mail starts in."""
    return {
        "status": PENDING,
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
        "claimed_until": None,
        "last_error": None,
    }
