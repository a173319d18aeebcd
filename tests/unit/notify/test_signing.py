from services.notify.signing import signed_headers


def test_the_signature_covers_the_timestamp_and_the_body() -> None:
    base = signed_headers("secret-of-sixteen", 1318382400, b'{"a":1}')

    assert base == {
        "Qunping-Timestamp": "1318382400",
        # computed once with `openssl dgst -sha256 -hmac` semantics: HMAC(secret, "ts." + body)
        "Qunping-Signature": "v1=8dffe2be0b9eb9005384dc3114db817074aec82eddfc6b7cea845988db298d84",
    }
    assert signed_headers("secret-of-sixteen", 1318382401, b'{"a":1}') != base
    assert signed_headers("secret-of-sixteen", 1318382400, b'{"a":2}') != base
    assert signed_headers("another-secret!!", 1318382400, b'{"a":1}') != base
