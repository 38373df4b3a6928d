import sim, time
data = {
 "name": "s", "duration": 120, "warmup": 10,
 "broker": {"type": "kafka", "topics": [{"name": "t", "partitions": 2}]},
 "producers": [{"name": "p", "to": "t", "rate": 200, "keys": 100},
               {"name": "bad", "to": "t", "rate": 0.05, "keys": ["poison"], "arrivals": "constant"}],
 "consumers": [{"name": "w", "from": "t", "replicas": 12, "share_group": "w", "service_time": "exp(50ms)",
                "max.poll.records": 10, "share.auto.offset.reset": "earliest", "poison_key": "poison"}],
}
t=time.time()
r = sim.run(sim.Scenario.from_dict(data))
print(time.time()-t)
s=r.summary
print({k: s[k] for k in ["produced","processed","duplicates","dropped","backlog_at_end","throughput","kafka.out_of_key_order","kafka.share.archived","kafka.share_consumers","delivered","redelivered"]}, r.conservation_gap())
print(r.tables["kafka.share.deliveries"])
print(r.series.keys())
