import sim
from tests.test_kafka_share_scenarios import _data
guarantee = {"strategy": "at-least-once", "crash_probability": 0.02, "restart_after": "1s"}
data = _data({"poison_key": None, "guarantee": guarantee})
data["producers"] = [{**data["producers"][0], "stop": 40.0}]
data["broker"]["group.share.record.lock.duration.ms"] = 2000
r = sim.run(sim.Scenario.from_dict(data))
s=r.summary
print({k:v for k,v in s.items() if not isinstance(v, dict)})
f=r.timeseries
print(f[["time","ready.t/w","in_flight.t/w","backlog"]].iloc[::40].to_string())
print(s["processed_by"])
g = None
