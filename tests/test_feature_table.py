"""docs/features.md is the table sim/brokers/features.py writes from the broker specs."""

from __future__ import annotations

from pathlib import Path

from sim.brokers.features import feature_table
from sim.brokers.rabbitmq.versions import VERSIONS
from sim.brokers.registry import SPECS

DOC = Path(__file__).resolve().parents[1] / "docs" / "features.md"


def test_the_committed_table_is_what_the_specs_say() -> None:
    assert DOC.read_text(encoding="utf-8") == feature_table(), (
        "docs/features.md is stale: python -m sim.brokers.features > docs/features.md"
    )


def test_every_broker_lists_its_features_each_with_a_source_and_versions() -> None:
    for spec in SPECS.values():
        assert spec.features, spec.type
        for feature in spec.features:
            assert feature.source and feature.versions, (spec.type, feature.name)
            if feature.status != "modelled":
                assert feature.note or "removed" in feature.versions or feature.status == "partly"


def test_the_rabbitmq_rows_name_only_versions_the_model_knows() -> None:
    """Every version a 'modelled' RabbitMQ row names is one broker.version accepts."""
    rabbit = SPECS["rabbitmq"]
    for feature in rabbit.features:
        if feature.status == "modelled":
            named = (
                feature.versions.replace("4.0-4.3", "4.0, 4.1, 4.2, 4.3")
                .replace("4.0-4.2", "4.0, 4.1, 4.2")
                .split(", ")
            )
            assert set(named) <= set(VERSIONS), feature.name
