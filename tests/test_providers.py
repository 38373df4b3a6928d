"""Providers (sim/services/provider.py) as synchronous dependencies of consumers, on every
broker: their latency, errors and outages (faults), their quota (429 with Retry-After), their
idempotency keys, and what they measure (due, delivered, within the SLA, duplicates)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import sim
from sim.scenario import Scenario
from sim.services.provider import Quota
from tests.test_broker_contract import ideal
from tests.test_rate_limits import most_in_any_window

BROKERS = sim.broker_types()


def calling(
    broker_type: str,
    provider: dict[str, Any],
    latency: str = "100ms",
    rate: float = 10.0,
    duration: float = 60.0,
    stop: float = 30.0,
    **consumer: Any,
) -> dict[str, Any]:
    """A producer at `rate` until `stop` into one source read by 4 replicas that each call the
    provider `gw` (with `provider` as its provider section) for every message."""
    data = ideal(broker_type, rate=rate, service="0s", consumers=4, duration=duration)
    data["producers"][0]["stop"] = stop
    data["consumers"][0].update({"calls": ["gw"], **consumer})
    data["services"] = [
        {"name": "gw", "workers": 100, "service_time": latency, "provider": provider}
    ]
    return data


def providers(results: sim.Results) -> pd.Series:
    table = results.tables["providers"]
    return table.set_index("provider").loc["gw"]


def test_the_quota_refuses_instead_of_queueing() -> None:
    quota = Quota(rate=2.0, burst=3)
    assert [quota.admit(0.0) for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]
    assert quota.admit(0.5) == 0.0  # one token back after 1 / rate
    assert quota.admit(0.5) == pytest.approx(0.5)  # nothing was reserved by the refusal
    assert quota.admit(100.0) == 0.0  # refilled, never beyond the burst
    assert [quota.admit(100.0) for _ in range(3)] == [0.0, 0.0, 0.5]


@pytest.mark.parametrize("broker_type", BROKERS)
def test_a_provider_never_sends_more_than_its_quota_and_answers_429_with_retry_after(
    broker_type: str,
) -> None:
    retry = {"attempts": 20, "backoff": "fixed", "initial": "100ms"}
    data = calling(broker_type, {"quota": "5/s", "burst": 3}, rate=10.0, retry=retry)
    results = sim.run(Scenario.from_dict(data), trace=True)
    trace = results.trace
    assert trace is not None
    # the consumer finishes 100 ms after the provider took its call: when the send started
    sent = np.sort(trace.loc[trace["event"] == "processed", "time"].to_numpy() - 0.1)
    assert len(sent) > 100
    for window in (0.2, 1.0, 5.0, 20.0):
        assert most_in_any_window(sent, window) <= 5 * window + 3 + 1e-9, window
    row = providers(results)
    assert row["throttled"] > 100  # twice the quota is offered
    tries = results.tables["retry.attempts"]
    throttled = tries[tries["outcome"] == "throttled"]
    assert len(throttled) == row["throttled"]
    # Retry-After is whole seconds (1 s here: a token is due in under 0.2 s), and the
    # policy waits that long rather than its own 100 ms (a message's last try waits no more)
    assert (throttled["next_delay"].dropna() == 1.0).all()
    assert results.conservation_gap() == 0


def test_a_policy_may_ignore_retry_after() -> None:
    retry = {"attempts": 50, "backoff": "fixed", "initial": "100ms", "retry_after": False}
    data = calling("rabbitmq", {"quota": "5/s", "burst": 3}, rate=10.0, retry=retry)
    tries = sim.run(Scenario.from_dict(data)).tables["retry.attempts"]
    throttled = tries[tries["outcome"] == "throttled"]
    assert len(throttled) > 100
    assert (throttled["next_delay"].dropna() == 0.1).all()


def test_a_provider_can_give_its_own_retry_after() -> None:
    retry = {"attempts": 5, "backoff": "fixed", "initial": "100ms"}
    data = calling("rabbitmq", {"quota": "5/s", "retry_after": "3s"}, rate=10.0, retry=retry)
    tries = sim.run(Scenario.from_dict(data)).tables["retry.attempts"]
    assert (tries.loc[tries["outcome"] == "throttled", "next_delay"].dropna() == 3.0).all()


# A slow tail: one send in four takes 3 s, past the consumer's 1 s timeout; the provider
# still sends it, and the retry sends it again unless the provider keeps idempotency keys.
SLOW_TAIL = "empirical([100ms, 100ms, 100ms, 3s])"
RETRY = {"attempts": 6, "backoff": "fixed", "initial": "5s"}


@pytest.mark.parametrize("broker_type", BROKERS)
def test_idempotency_keys_stop_the_duplicates_a_retry_after_a_timeout_sends(
    broker_type: str,
) -> None:
    found = {}
    for keys in (False, True):
        data = calling(
            broker_type,
            {"idempotency": keys},
            latency=SLOW_TAIL,
            timeout="1s",
            retry=RETRY,
            stop=20.0,
        )
        results = sim.run(Scenario.from_dict(data))
        assert results.conservation_gap() == 0
        found[keys] = providers(results)
    plain, keyed = found[False], found[True]
    # without keys: every send of a message after its first reaches the user again
    assert plain["duplicates"] > 20
    assert plain["deduplicated"] == 0
    # with keys: the repeated key is answered from the first send, nobody gets it twice
    assert keyed["duplicates"] == 0
    assert keyed["deduplicated"] > 20
    assert keyed["delivered"] == plain["delivered"]  # every message went out once


def test_a_retry_while_the_first_send_is_still_going_gets_a_409() -> None:
    retry = {"attempts": 10, "backoff": "fixed", "initial": "500ms"}
    data = calling(
        "rabbitmq", {"idempotency": True}, latency="3s", timeout="1s", retry=retry, rate=2.0
    )
    results = sim.run(Scenario.from_dict(data))
    row = providers(results)
    assert row["conflicts"] > 0
    assert row["duplicates"] == 0
    assert row["delivered"] == results.summary["produced"] == results.summary["processed"]
    tries = results.tables["retry.attempts"].sort_values(["message_id", "attempt"])
    # a timeout, 409s while the first send goes on, then the stored answer: sent once
    for _, one in tries.groupby("message_id"):
        outcomes = list(one["outcome"])
        assert outcomes[0] == "timeout" and outcomes[-1] == "ok", outcomes
        assert set(outcomes[1:-1]) <= {"error"}


@pytest.mark.parametrize("kind", ["down", "crash"])
def test_an_outage_sends_nothing_and_the_consumer_sees_timeouts_or_refusals(kind: str) -> None:
    retry = {"attempts": 30, "backoff": "fixed", "initial": "2s"}
    data = calling("rabbitmq", {}, retry=retry, timeout="1s", stop=50.0, duration=120.0)
    data["faults"] = [{"target": "gw", "kind": kind, "start": 20.0, "end": 40.0}]
    results = sim.run(Scenario.from_dict(data), trace=True)
    trace = results.trace
    assert trace is not None
    done = trace.loc[trace["event"] == "processed", "time"]
    assert not ((done > 20.0 + 0.1 + 1e-9) & (done < 40.0)).any()  # no send in the outage
    tries = results.tables["retry.attempts"]
    during = tries[(tries["start"] >= 20.0) & (tries["end"] <= 40.0)]
    expected = "timeout" if kind == "down" else "refused"
    assert len(during) > 50 and set(during["outcome"]) == {expected}
    assert results.summary["processed"] == results.summary["produced"]  # all sent after it


def test_a_providers_error_rate_fails_that_share_of_its_sends() -> None:
    data = calling("rabbitmq", {}, retry={"attempts": 10}, rate=20.0)
    data["faults"] = [{"target": "gw", "kind": "error", "probability": 0.2}]
    results = sim.run(Scenario.from_dict(data))
    row = providers(results)
    assert row["errors"] / row["calls"] == pytest.approx(0.2, abs=0.03)
    assert results.summary["processed"] == results.summary["produced"]


def notifications(**api: Any) -> dict[str, Any]:
    """Clients asking an API for notifications of two kinds for 50 s (all sent by the run's
    end at 60 s), the API calling two providers."""
    return {
        "name": "kinds",
        "duration": 60.0,
        "broker": {"type": "rabbitmq", "queues": [{"name": "unused", "durable": True}]},
        "clients": [
            {
                "name": "a",
                "to": "api",
                "rate": "5/s",
                "stop": 50.0,
                "kind": "otp",
                "channels": ["sms"],
            },
            {
                "name": "b",
                "to": "api",
                "rate": "3/s",
                "stop": 50.0,
                "kind": "news",
                "channels": ["sms", "push"],
                "sla": "1s",
            },
        ],
        "services": [
            {
                "name": "api",
                "workers": 50,
                "calls": {"otp": ["sms"], "news": ["sms", "push"]},
                **api,
            },
            {
                "name": "sms",
                "workers": 100,
                "service_time": "uniform(0s, 2s)",
                "provider": {"sla": "500ms"},
            },
            {"name": "push", "workers": 100, "service_time": "10ms", "provider": {}},
        ],
    }


def test_requests_call_the_providers_of_their_kind_and_count_against_their_sla() -> None:
    results = sim.run(Scenario.from_dict(notifications()))
    kinds = results.tables["providers.kinds"].set_index(["provider", "kind"])
    produced = results.summary["produced"]
    otp, news = kinds.loc[("sms", "otp")], kinds.loc[("sms", "news")]
    assert otp["due"] + news["due"] == produced
    assert kinds.loc[("push", "news"), "due"] == news["due"]
    assert ("push", "otp") not in kinds.index  # an OTP never goes to push
    calls = results.summary
    assert calls["calls.push"] == news["due"]
    assert calls["calls.sms"] == produced
    # uniform(0, 2 s): an OTP meets its channel's 500 ms SLA a quarter of the time, a news
    # item its own 1 s half of the time
    assert otp["within_sla"] / otp["due"] == pytest.approx(0.25, abs=0.05)
    assert news["within_sla"] / news["due"] == pytest.approx(0.5, abs=0.07)
    assert otp["sla"] == 0.5 and news["sla"] == 1.0
    table = results.tables["providers"].set_index("provider")
    assert table.loc["sms", "within_sla"] == otp["within_sla"] + news["within_sla"]
    # the CDF per kind ends at the share delivered
    latency = results.tables["providers.latency"]
    curve = latency[(latency["provider"] == "sms") & (latency["kind"] == "otp")]
    assert curve["delivered"].iloc[-1] == pytest.approx(otp["delivered"] / otp["due"])
    assert curve["latency"].max() <= 2.0 + 0.05


def test_a_consumer_calls_the_providers_of_each_messages_kind_through_any_broker() -> None:
    data = notifications(publishes_to="jobs")
    data["broker"] = {
        "type": "redis",
        "streams": [{"name": "jobs"}],
        "groups": [{"stream": "jobs", "name": "senders", "start": "0"}],
    }
    data["services"][0].pop("calls")
    data["consumers"] = [
        {
            "name": "senders",
            "from": "jobs",
            "group": "senders",
            "replicas": 20,
            "calls": {"otp": ["sms"], "news": ["push", "sms"]},
        }
    ]
    results = sim.run(Scenario.from_dict(data))
    kinds = results.tables["providers.kinds"].set_index(["provider", "kind"])
    assert kinds.loc[("sms", "otp"), "delivered"] == kinds.loc[("sms", "otp"), "due"]
    assert kinds.loc[("push", "news"), "delivered"] == kinds.loc[("push", "news"), "due"]
    assert results.summary["calls.push"] == kinds.loc[("push", "news"), "due"]


def test_the_undelivered_gauge_is_due_minus_delivered() -> None:
    data = notifications()
    data["faults"] = [{"target": "sms", "kind": "down", "start": 20.0, "end": 30.0}]
    results = sim.run(Scenario.from_dict(data))
    frame = results.timeseries.set_index("time")["undelivered.sms"]
    assert frame.loc[:19].max() < 20  # a send takes up to 2 s: a few waiting at any time
    assert frame.loc[25:30].min() > 5 * 5  # nothing goes out while it is down
    row = results.tables["providers"].set_index("provider").loc["sms"]
    assert frame.iloc[-1] == row["due"] - row["delivered"]


@pytest.mark.parametrize(
    ("change", "path", "expected"),
    [
        ({"consumers.0.calls": [], "consumers.0.timeout": "1s"}, "consumers[0]", "no calls"),
        ({"consumers.0.calls": ["nope"]}, "consumers[0].calls[0]", "unknown service 'nope'"),
        ({"services.0.calls": ["x"]}, "services[0]", "a provider is called"),
        ({"services.0.provider.quota": 0}, "services[0].provider", "quota must be positive"),
    ],
)
def test_bad_provider_settings_are_one_line_errors(
    change: dict[str, Any], path: str, expected: str
) -> None:
    data = calling("rabbitmq", {})
    scenario = Scenario.from_dict(data)
    with pytest.raises(sim.ScenarioError) as raised:
        scenario.override(change)
    message = str(raised.value)
    assert "\n" not in message and path in message and expected in message


def test_a_client_asks_only_for_channels_that_are_providers() -> None:
    data = notifications()
    data["clients"][0]["channels"] = ["api"]
    with pytest.raises(sim.ScenarioError, match=r"clients\[0\]\.channels\[0\]: unknown provider"):
        Scenario.from_dict(data)
