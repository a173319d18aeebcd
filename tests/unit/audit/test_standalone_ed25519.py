"""The standalone verifier checks signatures in plain Python: it must agree with `cryptography`."""

from qunping.core.checkpoints import SigningKey
from services.audit.verify_bundle import ed25519_verify


def test_the_standalone_verifiers_plain_python_ed25519_agrees_with_cryptography() -> None:
    key = SigningKey.generate()
    message = b'{"hash":"ab","log":"ballot"}'
    signature = bytes.fromhex(key.sign(message))
    other = bytes.fromhex(SigningKey.generate().public_key.hex())

    assert ed25519_verify(key.public_key, message, signature)
    assert not ed25519_verify(key.public_key, message + b" ", signature)
    assert not ed25519_verify(other, message, signature)
    assert not ed25519_verify(key.public_key, message, bytes([signature[0] ^ 1]) + signature[1:])
