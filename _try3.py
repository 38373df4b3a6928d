import sim, time, sys
for path in sys.argv[1:]:
    sc = sim.load_scenario(path)
    for name, v in sc.variant_scenarios().items():
        t=time.time(); r = sim.run(v); s=r.summary
        keys = ["processed","throughput","duplicates","lost","dropped","backlog_at_end","kafka.rebalances","kafka.unowned_partition_seconds","kafka.poll_timeouts","kafka.static_rejoins","kafka.out_of_key_order","kafka.share.archived","latency_p99"]
        print(name, round(time.time()-t,1), {k: (round(s[k],2) if isinstance(s.get(k), float) else s.get(k)) for k in keys if k in s}, r.conservation_gap())
