"""moto's server mode with one defect corrected: KMS Sign and Verify with
MessageType=DIGEST.

moto (5.x) ignores MessageType and hashes the message again, so a digest sent for
signing is signed as if it were the message. Real AWS KMS signs the digest as given.
This launcher patches moto's KMS key classes so that a DIGEST message is treated as a
precomputed hash (cryptography's Prehashed), with KMS's length check, then runs the
server exactly as `moto_server` would: python moto_server.py -H 127.0.0.1 -p PORT
"""

import contextvars
import sys

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from moto.kms import responses, utils
from moto.kms.exceptions import ValidationException
from moto.server import main

_digest = contextvars.ContextVar("kiln_kms_digest", default=False)


def _with_message_type(original):
    def handler(self):
        token = _digest.set(self._get_param("MessageType") == "DIGEST")
        try:
            return original(self)
        finally:
            _digest.reset(token)

    return handler


def _prehashed(message, hash_algorithm):
    if len(message) != hash_algorithm.digest_size:
        raise ValidationException(
            f"Digest is invalid length for algorithm {hash_algorithm.name}: "
            f"{len(message)} bytes, expected {hash_algorithm.digest_size}"
        )
    return Prehashed(hash_algorithm)


def _ecdsa_sign(original):
    def sign(self, message, signing_algorithm):
        if not _digest.get():
            return original(self, message, signing_algorithm)
        utils.validate_signing_algorithm(signing_algorithm, self.valid_signing_algorithms)
        h = self._ECDSAPrivateKey__hash_algorithm(signing_algorithm)
        return self.private_key.sign(message, ec.ECDSA(_prehashed(message, h)))

    return sign


def _ecdsa_verify(original):
    def verify(self, message, signature, signing_algorithm):
        if not _digest.get():
            return original(self, message, signature, signing_algorithm)
        utils.validate_signing_algorithm(signing_algorithm, self.valid_signing_algorithms)
        h = self._ECDSAPrivateKey__hash_algorithm(signing_algorithm)
        try:
            self.private_key.public_key().verify(
                signature, message, ec.ECDSA(_prehashed(message, h))
            )
            return True
        except Exception as e:  # InvalidSignature, or a ValidationException to pass on
            if isinstance(e, ValidationException):
                raise
            return False

    return verify


def _rsa_sign(original):
    def sign(self, message, signing_algorithm):
        if not _digest.get():
            return original(self, message, signing_algorithm)
        utils.validate_signing_algorithm(
            signing_algorithm, utils.SigningAlgorithm.rsa_signing_algorithms()
        )
        pad, h = self._RSAPrivateKey__padding_and_hash_algorithm(signing_algorithm)
        return self.private_key.sign(message, pad, _prehashed(message, h))

    return sign


def _rsa_verify(original):
    def verify(self, message, signature, signing_algorithm):
        if not _digest.get():
            return original(self, message, signature, signing_algorithm)
        utils.validate_signing_algorithm(
            signing_algorithm, utils.SigningAlgorithm.rsa_signing_algorithms()
        )
        pad, h = self._RSAPrivateKey__padding_and_hash_algorithm(signing_algorithm)
        try:
            self.private_key.public_key().verify(
                signature, message, pad, _prehashed(message, h)
            )
            return True
        except Exception as e:
            if isinstance(e, ValidationException):
                raise
            return False

    return verify


responses.KmsResponse.sign = _with_message_type(responses.KmsResponse.sign)
responses.KmsResponse.verify = _with_message_type(responses.KmsResponse.verify)
utils.ECDSAPrivateKey.sign = _ecdsa_sign(utils.ECDSAPrivateKey.sign)
utils.ECDSAPrivateKey.verify = _ecdsa_verify(utils.ECDSAPrivateKey.verify)
utils.RSAPrivateKey.sign = _rsa_sign(utils.RSAPrivateKey.sign)
utils.RSAPrivateKey.verify = _rsa_verify(utils.RSAPrivateKey.verify)

if __name__ == "__main__":
    main(sys.argv[1:])
