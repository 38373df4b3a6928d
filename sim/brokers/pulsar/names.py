"""Pulsar topic names: ``{persistent|non-persistent}://tenant/namespace/topic`` and partitions.

A port of the parsing in ``pulsar-common/src/main/java/org/apache/pulsar/common/naming/``
(Pulsar 4.0.0): ``TopicName``, ``NamespaceName``, ``NamedEntity`` and ``TopicDomain``.

- A short name is completed: ``<topic>`` means ``persistent://public/default/<topic>``
  (``TopicName.PUBLIC_TENANT``, ``DEFAULT_NAMESPACE``) and ``<tenant>/<namespace>/<topic>`` means
  ``persistent://<tenant>/<namespace>/<topic>``. Java splits the short form with
  ``StringUtils.split(name, '/')``, which drops empty pieces; so does :meth:`TopicName.parse`.
- The domain is ``persistent`` or ``non-persistent``, matched case-insensitively
  (``TopicDomain.getEnum``) and written in lower case.
- Tenant and namespace must be non-empty and match ``^[-=:.\\w]*$`` (``NamedEntity.checkName``);
  the topic's local name must be non-empty and is otherwise free (it is URL-encoded elsewhere).
- Partition ``i`` of a partitioned topic ``t`` is the topic ``t-partition-i``
  (``PARTITIONED_TOPIC_SUFFIX``). ``getPartitionIndex`` reads the digits after the last
  ``-partition-``; a negative number, a leading zero or ``+``, or a non-number means the name is
  not a partition (index -1).

Legacy names with a cluster (``persistent://tenant/cluster/namespace/topic``, Pulsar's V1 form)
are not modelled: they are refused with a message saying so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = [
    "DEFAULT_NAMESPACE",
    "NON_PERSISTENT",
    "PARTITIONED_TOPIC_SUFFIX",
    "PERSISTENT",
    "PUBLIC_TENANT",
    "TopicName",
    "namespace_name",
    "partition_index",
]

PERSISTENT: Final = "persistent"
NON_PERSISTENT: Final = "non-persistent"
_DOMAINS: Final = (PERSISTENT, NON_PERSISTENT)
PUBLIC_TENANT: Final = "public"  # TopicName.PUBLIC_TENANT
DEFAULT_NAMESPACE: Final = "default"  # TopicName.DEFAULT_NAMESPACE
PARTITIONED_TOPIC_SUFFIX: Final = "-partition-"  # TopicName.PARTITIONED_TOPIC_SUFFIX

# NamedEntity.NAMED_ENTITY_PATTERN (Java's \w is ASCII [a-zA-Z_0-9]).
_NAMED_ENTITY: Final = re.compile(r"[-=:.A-Za-z0-9_]*")
# What Integer.parseInt accepts (ASCII digits), bounded to a Java int below.
_JAVA_INT: Final = re.compile(r"[+-]?[0-9]+")
_INT_MAX: Final = 2**31 - 1


def partition_index(name: str) -> int:
    """``TopicName.getPartitionIndex``: the partition number in ``name``, or -1 if none.

    Only a canonical non-negative decimal after the last ``-partition-`` counts: ``t-partition-01``
    and ``t-partition--1`` are not partitions (Java compares the text's length with
    ``String.valueOf`` of the parsed number and rejects negatives).
    """
    cut = name.rfind(PARTITIONED_TOPIC_SUFFIX)
    if cut < 0:
        return -1
    digits = name[cut + len(PARTITIONED_TOPIC_SUFFIX) :]
    if not _JAVA_INT.fullmatch(digits):
        return -1
    value = int(digits)
    if not -(2**31) <= value <= _INT_MAX:
        return -1  # NumberFormatException in Integer.parseInt
    if value < 0 or len(digits) != len(str(value)):
        return -1
    return value


def _check_named_entity(kind: str, value: str, name: str) -> None:
    if not value:
        raise ValueError(f"invalid topic name {name!r}: the {kind} is empty")
    if not _NAMED_ENTITY.fullmatch(value):
        raise ValueError(
            f"invalid topic name {name!r}: the {kind} {value!r} may only hold letters, digits "
            "and the characters - = : . _"
        )


def namespace_name(tenant: str, namespace: str) -> str:
    """``NamespaceName.get(tenant, namespace)``: ``"tenant/namespace"``, both names validated."""
    label = f"{tenant}/{namespace}"
    _check_named_entity("tenant", tenant, label)
    _check_named_entity("namespace", namespace, label)
    return label


@dataclass(frozen=True, slots=True)
class TopicName:
    """A parsed, canonical Pulsar topic name (``TopicName``); build it with :meth:`parse`."""

    domain: str
    tenant: str
    namespace_portion: str
    local_name: str

    @classmethod
    def parse(cls, name: str) -> TopicName:
        """Parse ``name`` as the ``TopicName`` constructor does; ValueError if it is invalid."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"invalid topic name {name!r}: a topic name is a non-empty string")
        complete = name
        if "://" not in name:
            parts = [part for part in name.split("/") if part]  # StringUtils.split
            if len(parts) == 1:
                complete = f"{PERSISTENT}://{PUBLIC_TENANT}/{DEFAULT_NAMESPACE}/{parts[0]}"
            elif len(parts) == 3:
                complete = f"{PERSISTENT}://{name}"
            else:
                raise ValueError(
                    f"invalid short topic name {name!r}: use <tenant>/<namespace>/<topic> or "
                    "<topic> (which means persistent://public/default/<topic>)"
                )
        scheme, rest = complete.split("://", 1)
        domain = scheme.lower()
        if domain not in _DOMAINS:
            raise ValueError(
                f"invalid topic name {name!r}: the domain {scheme!r} is neither "
                f"{PERSISTENT!r} nor {NON_PERSISTENT!r}"
            )
        parts = rest.split("/", 3)  # Splitter.on("/").limit(4)
        if len(parts) == 4:
            raise ValueError(
                f"invalid topic name {name!r}: the legacy form with a cluster "
                "(tenant/cluster/namespace/topic) is not modelled; use tenant/namespace/topic"
            )
        if len(parts) != 3:
            raise ValueError(
                f"invalid topic name {name!r}: expected {domain}://tenant/namespace/topic"
            )
        tenant, namespace, local_name = parts
        namespace_name(tenant, namespace)
        if not local_name:
            raise ValueError(f"invalid topic name {name!r}: the topic's own name is empty")
        return cls(domain, tenant, namespace, local_name)

    @property
    def namespace(self) -> str:
        """``getNamespace``: ``"tenant/namespace"``."""
        return f"{self.tenant}/{self.namespace_portion}"

    @property
    def is_persistent(self) -> bool:
        return self.domain == PERSISTENT

    @property
    def partition_index(self) -> int:
        """``getPartitionIndex``: this topic's partition number, -1 when it is not a partition."""
        return partition_index(self.local_name)

    @property
    def is_partition(self) -> bool:
        """``isPartitioned``: whether this name is one partition of a partitioned topic."""
        return self.partition_index != -1

    @property
    def partitioned_topic_name(self) -> TopicName:
        """``getPartitionedTopicName``: the partitioned topic this partition belongs to (itself
        when it is not a partition)."""
        if not self.is_partition:
            return self
        base = self.local_name[: self.local_name.rfind(PARTITIONED_TOPIC_SUFFIX)]
        return TopicName(self.domain, self.tenant, self.namespace_portion, base)

    def partition(self, index: int) -> TopicName:
        """``getPartition(index)``: ``<name>-partition-<index>`` (itself for -1, or when the name
        already ends with that suffix, as in Java)."""
        if index < -1:
            raise ValueError(f"partition index must be >= 0 (or -1), got {index}")
        suffix = f"{PARTITIONED_TOPIC_SUFFIX}{index}"
        if index == -1 or self.local_name.endswith(suffix):
            return self
        return TopicName(self.domain, self.tenant, self.namespace_portion, self.local_name + suffix)

    def partitions(self, count: int) -> list[TopicName]:
        """The ``count`` partition topics of this partitioned topic, in index order."""
        if count < 1:
            raise ValueError(f"a partitioned topic has at least 1 partition, got {count}")
        return [self.partition(i) for i in range(count)]

    def __str__(self) -> str:
        return f"{self.domain}://{self.tenant}/{self.namespace_portion}/{self.local_name}"
