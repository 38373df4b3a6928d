"""Pulsar's key hashes, bit-exact with Apache Pulsar 4.0.0.

Three hashes decide where a keyed message goes:

- ``Murmur3_32Hash`` (``pulsar-common/.../common/util/Murmur3_32Hash.java``): MurmurHash3
  x86_32 with seed 0 over the key's bytes; ``makeHash`` clears the sign bit (``& 0x7fffffff``).
  The client's ``Murmur3_32Hash`` hashing scheme (``pulsar-client/.../impl/Murmur3Hash32.java``)
  applies it to the key's UTF-8 bytes.
- ``JavaStringHash`` (``pulsar-client/.../impl/JavaStringHash.java``), the producer's default
  scheme (``ProducerConfigurationData.hashingScheme``): Java's ``String.hashCode()`` over UTF-16
  code units, sign bit cleared. Both clear the bit instead of taking ``abs``, so a key whose
  ``hashCode()`` is ``Integer.MIN_VALUE`` (``"polygenelubricants"``) hashes to 0.
- The Key_Shared *sticky key hash* (``StickyKeyConsumerSelectorUtils.makeStickyKeyHash``):
  ``Murmur3_32Hash.makeHash(stickyKey) % range.size() + range.start``, where 0
  (``STICKY_KEY_HASH_NOT_SET``) becomes 1. The range depends on the selector: [1, 65535] for
  ``ConsistentHashingStickyKeyConsumerSelector`` (the broker default,
  ``subscriptionKeySharedUseConsistentHashing=true``), [0, 65535] for
  ``HashRangeAutoSplitStickyKeyConsumerSelector``. So one key has a different sticky hash under
  each selector.

A keyed message goes to partition ``MathUtils.signSafeMod(makeHash(key), numPartitions)``
(``RoundRobinPartitionMessageRouterImpl``, ``SinglePartitionMessageRouterImpl``): the key
overrides the routing mode. The empty key is hashed like any other key.

Java strings may hold lone surrogates, Python ``str`` may too: ``String.hashCode`` sees them as
code units (kept here with ``surrogatepass``) and ``String.getBytes(UTF_8)`` replaces each with
``?``, which is what Python's ``errors="replace"`` does on encoding.

Checked against ``shared/conformance/pulsar/hashes.json`` by
``tests/conformance/test_pulsar_hashes.py``.
"""

from __future__ import annotations

import base64
import struct
from typing import Final, Literal

__all__ = [
    "AUTO_SPLIT",
    "CONSISTENT_HASHING",
    "DEFAULT_RANGE_SIZE",
    "HASHING_SCHEMES",
    "JAVA_STRING_HASH",
    "MURMUR3_32_HASH",
    "NONE_KEY",
    "SELECTORS",
    "STICKY_KEY_HASH_NOT_SET",
    "HashingScheme",
    "SelectorKind",
    "java_string_hash",
    "key_hash",
    "murmur3_32",
    "murmur3_32_hash",
    "partition_for_key",
    "sign_safe_mod",
    "sticky_key",
    "sticky_key_hash",
]

HashingScheme = Literal["JavaStringHash", "Murmur3_32Hash"]
SelectorKind = Literal["consistent_hashing", "auto_split"]

# org.apache.pulsar.client.api.HashingScheme; JavaStringHash is ProducerConfigurationData's default.
JAVA_STRING_HASH: Final = "JavaStringHash"
MURMUR3_32_HASH: Final = "Murmur3_32Hash"
HASHING_SCHEMES: Final = (JAVA_STRING_HASH, MURMUR3_32_HASH)

CONSISTENT_HASHING: Final = "consistent_hashing"
AUTO_SPLIT: Final = "auto_split"
SELECTORS: Final = (CONSISTENT_HASHING, AUTO_SPLIT)

# StickyKeyConsumerSelector.DEFAULT_RANGE_SIZE = 2 << 15 and STICKY_KEY_HASH_NOT_SET = 0.
DEFAULT_RANGE_SIZE: Final = 2 << 15
STICKY_KEY_HASH_NOT_SET: Final = 0
# Commands.NONE_KEY: the sticky key of a message with neither an ordering key nor a key.
NONE_KEY: Final = b"NONE_KEY"

_MASK32: Final = 0xFFFFFFFF
_INT_MAX: Final = 0x7FFFFFFF
# Constants of Murmur3_32Hash (C1, C2) and of its fmix step.
_C1: Final = 0xCC9E2D51
_C2: Final = 0x1B873593


def _rotl32(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _MASK32


def _mix_k1(k1: int) -> int:
    k1 = (k1 * _C1) & _MASK32
    k1 = _rotl32(k1, 15)
    return (k1 * _C2) & _MASK32


def murmur3_32(data: bytes) -> int:
    """MurmurHash3 x86_32 of ``data``, seed 0, as an unsigned 32-bit int.

    Port of ``Murmur3_32Hash.makeHash0`` (pulsar-common): 4-byte little-endian blocks, then the
    tail bytes folded in little-endian, then ``h ^= len`` and the ``fmix`` finaliser. Java's
    wrapping ``int`` arithmetic is reproduced by masking every product to 32 bits; the result is
    returned unsigned (reinterpret it as a Java ``int`` if the signed value is wanted). The
    block loop is inlined because Key_Shared hashes every message's key.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"murmur3_32 hashes bytes, not {type(data).__name__}")
    data = bytes(data)
    length = len(data)
    whole = length >> 2
    h1 = 0
    for k1 in struct.unpack_from(f"<{whole}I", data):
        k1 = (k1 * _C1) & _MASK32
        k1 = ((k1 << 15) | (k1 >> 17)) & _MASK32
        h1 ^= (k1 * _C2) & _MASK32
        h1 = ((h1 << 13) | (h1 >> 19)) & _MASK32
        h1 = (h1 * 5 + 0xE6546B64) & _MASK32
    # Java: k1 ^= toInt(byte) << (i * 8) over the remaining bytes, then h1 ^= mixK1(k1) always
    # (mixK1(0) is 0, so a block-aligned key is unaffected).
    h1 ^= _mix_k1(int.from_bytes(data[whole << 2 :], "little"))
    h1 ^= length
    h1 ^= h1 >> 16
    h1 = (h1 * 0x85EBCA6B) & _MASK32
    h1 ^= h1 >> 13
    h1 = (h1 * 0xC2B2AE35) & _MASK32
    h1 ^= h1 >> 16
    return h1


def _utf8(key: str | bytes) -> bytes:
    if isinstance(key, str):
        # String.getBytes(UTF_8) replaces an unpaired surrogate with '?', as errors="replace" does.
        return key.encode("utf-8", errors="replace")
    if isinstance(key, bytes | bytearray | memoryview):
        return bytes(key)
    raise TypeError(f"a Pulsar key is str or bytes, not {type(key).__name__}")


def murmur3_32_hash(key: str | bytes) -> int:
    """``Murmur3_32Hash.makeHash``: ``murmur3_32 & 0x7fffffff`` of the key's (UTF-8) bytes."""
    return murmur3_32(_utf8(key)) & _INT_MAX


def java_string_hash(key: str) -> int:
    """``JavaStringHash.makeHash``: ``String.hashCode() & 0x7fffffff``.

    ``hashCode`` is ``s[0]*31^(n-1) + ... + s[n-1]`` in wrapping 32-bit arithmetic over UTF-16
    code units, so a character outside the BMP contributes its two surrogates.
    """
    if not isinstance(key, str):
        raise TypeError(f"JavaStringHash hashes a str, not {type(key).__name__}")
    units = key.encode("utf-16-le", errors="surrogatepass")
    h = 0
    for i in range(0, len(units), 2):
        h = (h * 31 + (units[i] | (units[i + 1] << 8))) & _MASK32
    return h & _INT_MAX


def key_hash(key: str, hashing_scheme: str = JAVA_STRING_HASH) -> int:
    """The producer's ``hash.makeHash(msg.getKey())`` under ``hashing_scheme``."""
    if hashing_scheme == JAVA_STRING_HASH:
        return java_string_hash(key)
    if hashing_scheme == MURMUR3_32_HASH:
        return murmur3_32_hash(key)
    raise ValueError(
        f"unknown hashing_scheme {hashing_scheme!r}: Pulsar's are {', '.join(HASHING_SCHEMES)}"
    )


def sign_safe_mod(dividend: int, divisor: int) -> int:
    """``MathUtils.signSafeMod``: Java's truncating ``%`` made non-negative.

    Java's ``long`` remainder takes the dividend's sign and the result is then shifted up by the
    divisor; for a positive divisor this is exactly Python's floored ``%``.
    """
    if divisor <= 0:
        raise ValueError(f"partitions must be positive, got {divisor}")
    return dividend % divisor


def partition_for_key(key: str, partitions: int, hashing_scheme: str = JAVA_STRING_HASH) -> int:
    """The partition of a keyed message: ``signSafeMod(makeHash(key), partitions)``.

    Both routers (``RoundRobinPartitionMessageRouterImpl``, ``SinglePartitionMessageRouterImpl``)
    let the key override the routing mode, so this is the partition under either.
    """
    return sign_safe_mod(key_hash(key, hashing_scheme), partitions)


def sticky_key(
    ordering_key: bytes | None = None,
    partition_key: str | None = None,
    partition_key_b64_encoded: bool = False,
) -> bytes:
    """The bytes Key_Shared hashes, as ``Commands.peekStickyKey`` picks them.

    The ordering key wins; else the message key (base64-decoded when it was set as bytes, i.e.
    ``partition_key_b64_encoded``; else its UTF-8 bytes); else ``Commands.NONE_KEY``, so every
    unkeyed message shares one sticky hash and goes to one consumer.
    """
    if ordering_key is not None:
        return bytes(ordering_key)
    if partition_key is not None:
        if partition_key_b64_encoded:
            return base64.b64decode(partition_key)
        return _utf8(partition_key)
    return NONE_KEY


def _key_hash_range(selector: str) -> tuple[int, int]:
    """The selector's ``getKeyHashRange()`` as (start, size)."""
    if selector == CONSISTENT_HASHING:
        # ConsistentHashingStickyKeyConsumerSelector: Range.of(STICKY_KEY_HASH_NOT_SET + 1,
        # DEFAULT_RANGE_SIZE - 1), i.e. [1, 65535], 65535 values.
        return STICKY_KEY_HASH_NOT_SET + 1, DEFAULT_RANGE_SIZE - 1
    if selector == AUTO_SPLIT:
        # HashRangeAutoSplitStickyKeyConsumerSelector: Range.of(0, rangeSize - 1), 65536 values.
        return 0, DEFAULT_RANGE_SIZE
    raise ValueError(
        f"unknown Key_Shared selector {selector!r}: Pulsar's are {', '.join(SELECTORS)}"
    )


def sticky_key_hash(key: str | bytes, selector: str = CONSISTENT_HASHING) -> int:
    """``StickyKeyConsumerSelectorUtils.makeStickyKeyHash`` under ``selector``'s key hash range.

    ``makeHash(stickyKey) % range.size() + range.start``; the value 0 is reserved
    (``STICKY_KEY_HASH_NOT_SET``) and becomes 1. A ``str`` key is hashed as its UTF-8 bytes.
    """
    start, size = _key_hash_range(selector)
    value = murmur3_32_hash(key) % size + start
    return STICKY_KEY_HASH_NOT_SET + 1 if value == STICKY_KEY_HASH_NOT_SET else value
