import sim, simpy
from sim.scenario import Scenario
from tests.test_kafka_share_scenarios import _data
from sim.kernel import RunContext
guarantee = {"strategy": "at-least-once", "crash_probability": 0.02, "restart_after": "1s"}
data = _data({"poison_key": None, "guarantee": guarantee})
data["producers"] = [{**data["producers"][0], "stop": 40.0}]
data["broker"]["group.share.record.lock.duration.ms"] = 2000
import sim.brokers.kafka.runtime as rt
orig = rt.build
holder = {}
def build(ctx):
    r = orig(ctx); holder['r']=r; return r
rt.build = build
res = sim.run(Scenario.from_dict(data))
r = holder['r']
for app in r.apps:
    c = app.consumer
    print(app.name, app.crashed, c.crashed, c._closed, c._assignment, c._member and c._member.member_id, app.process.is_alive if app.process else None, len(c._batch), len(c._in_hand), app.current, list(app.waiting))
g = r.cluster.share_coordinator.groups['w']
print(list(g.members))
for tp, sp in g.partitions.items():
    print(tp, sp.start, sp.end, sp.available, sp.acquired, sp.partition.hw, sp.waiters)
p = r.apps[2].process
print(p.target, getattr(p.target,'callbacks',None), p.target.triggered)
import traceback
print(p._generator.gi_frame, p._generator.gi_yieldfrom)
g = p._generator
while g is not None:
    print(g.gi_code.co_name, g.gi_frame.f_lineno if g.gi_frame else None)
    g = g.gi_yieldfrom if hasattr(g, 'gi_yieldfrom') else None
