"""Replay ``shared/conformance/pulsar/hashes.json`` against ``sim.brokers.pulsar``'s hashes.

Every recorded key is checked for its raw MurmurHash3, both hashing schemes' values, its
sticky key hash under both Key_Shared selectors, and its partition under both schemes for every
recorded partition count, so a failure names the exact key. The file's own verification
vectors (Pulsar's ``HashTest`` and the two routers' ``testChoosePartitionWithKey``) are replayed
too. A missing data file is a failure, not a skip.
"""

from __future__ import annotations

from typing import Any

import pytest

from sim.brokers.pulsar import (
    java_string_hash,
    murmur3_32,
    murmur3_32_hash,
    partition_for_key,
    sticky_key_hash,
)
from tests.helpers import golden, require_golden

FILE = "pulsar/hashes.json"
MISSING = "golden-data-missing"


def _case_params() -> list[Any]:
    data = golden(FILE)
    if data is None:
        return [pytest.param(None, id=MISSING)]
    return [pytest.param(case, id=f"{case['id']}-{case['group']}") for case in data["cases"]]


def _vector_params(test_name: str) -> list[Any]:
    data = golden(FILE)
    if data is None:
        return [pytest.param(None, id=MISSING)]
    return [
        pytest.param(vector, id=f"{test_name}-{i}")
        for i, vector in enumerate(data["verification"]["pulsar_unit_tests"])
        if test_name in vector["test"]
    ]


def _key(case: dict[str, Any]) -> str:
    text: str = case["key_text"]
    # The file's bytes are the UTF-8 of the text: check it is coherent before trusting it.
    assert text.encode("utf-8") == bytes.fromhex(case["key_hex"])
    return text


def test_golden_data_present() -> None:
    data = require_golden(FILE)
    assert data["source"]["pulsar_version"] == "4.0.0"
    assert data["verification_all_ok"] is True
    assert len(data["cases"]) > 0
    counts = {str(n) for n in data["partition_counts"]}
    for case in data["cases"]:
        assert set(case["partition"]) == set(data["hashing_schemes"])
        assert all(set(by_n) == counts for by_n in case["partition"].values())


@pytest.mark.parametrize("case", _case_params())
def test_hashes(case: dict[str, Any] | None) -> None:
    if case is None:
        require_golden(FILE)
        return
    key = _key(case)
    raw = bytes.fromhex(case["key_hex"])
    assert murmur3_32(raw) == case["murmur3_32"]
    assert murmur3_32_hash(key) == case["murmur3_32_hash"]
    assert murmur3_32_hash(raw) == case["murmur3_32_hash"], "str and its UTF-8 bytes must agree"
    assert java_string_hash(key) == case["java_string_hash"]
    assert sticky_key_hash(key) == case["sticky_key_hash"]
    assert sticky_key_hash(key, "consistent_hashing") == case["sticky_key_hash"]
    assert sticky_key_hash(raw, "auto_split") == case["sticky_key_hash_auto_split"]


@pytest.mark.parametrize("case", _case_params())
def test_partitions(case: dict[str, Any] | None) -> None:
    if case is None:
        require_golden(FILE)
        return
    key = _key(case)
    got = {
        scheme: {n: partition_for_key(key, int(n), scheme) for n in by_n}
        for scheme, by_n in case["partition"].items()
    }
    assert got == case["partition"]
    # The default scheme is JavaStringHash (ProducerConfigurationData.hashingScheme).
    for n, expected in case["partition"]["JavaStringHash"].items():
        assert partition_for_key(key, int(n)) == expected


@pytest.mark.parametrize("vector", _vector_params("murmur3_32HashTest"))
def test_pulsar_hashtest_murmur3(vector: dict[str, Any] | None) -> None:
    if vector is None:
        require_golden(FILE)
        return
    assert murmur3_32_hash(vector["input"]) == vector["expected"]


@pytest.mark.parametrize("vector", _vector_params("javaStringHashTest"))
def test_pulsar_hashtest_java_string(vector: dict[str, Any] | None) -> None:
    if vector is None:
        require_golden(FILE)
        return
    assert java_string_hash(vector["input"]) == vector["expected"]


@pytest.mark.parametrize("vector", _vector_params("testChoosePartitionWithKey"))
def test_pulsar_router_tests(vector: dict[str, Any] | None) -> None:
    if vector is None:
        require_golden(FILE)
        return
    given = vector["input"]
    assert partition_for_key(given["key"], given["numPartitions"]) == vector["expected"]


def test_every_unit_test_vector_is_replayed() -> None:
    """No verification vector may fall through the name filters above unreplayed."""
    data = require_golden(FILE)
    replayed = ("murmur3_32HashTest", "javaStringHashTest", "testChoosePartitionWithKey")
    selector_tests = ("StickyKeyConsumerSelectorTest",)  # replayed with key_shared.json
    for vector in data["verification"]["pulsar_unit_tests"]:
        assert any(name in vector["test"] for name in replayed + selector_tests), vector["test"]


# -- rules stated in the conformance README, beyond single cases ---------------------------


def test_sign_bit_is_cleared_not_abs() -> None:
    # "polygenelubricants".hashCode() == Integer.MIN_VALUE; masking maps it to 0.
    assert java_string_hash("polygenelubricants") == 0
    assert partition_for_key("polygenelubricants", 7) == 0


def test_java_string_hash_counts_utf16_code_units() -> None:
    # U+1F600 is the surrogate pair D83D DE00 in UTF-16: hashCode = 0xD83D * 31 + 0xDE00.
    assert java_string_hash("\U0001f600") == (0xD83D * 31 + 0xDE00) & 0x7FFFFFFF


def test_murmur3_32_rejects_text() -> None:
    with pytest.raises(TypeError):
        murmur3_32("abc")  # type: ignore[arg-type]
    assert murmur3_32(bytearray(b"abc")) == murmur3_32(b"abc") == murmur3_32(memoryview(b"abc"))


def test_unknown_scheme_selector_and_partition_count_are_refused() -> None:
    with pytest.raises(ValueError, match="hashing_scheme"):
        partition_for_key("k", 3, "BoostHash")
    with pytest.raises(ValueError, match="selector"):
        sticky_key_hash("k", "sticky")
    with pytest.raises(ValueError, match="partitions"):
        partition_for_key("k", 0)
