"""AMQP topic matching, so webhook filters read exactly like queue bindings."""

from __future__ import annotations


def topic_matches(pattern: str, routing_key: str) -> bool:
    """`*` matches one word, `#` zero or more, as in a RabbitMQ topic binding."""
    return _match(pattern.split("."), routing_key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[skip:]) for skip in range(len(words) + 1))
    if not words:
        return False
    return (head in ("*", words[0])) and _match(rest, words[1:])
