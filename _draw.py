import sim, sys
from sim.viz.charts import write_variant_charts, write_charts
for path in sys.argv[1:]:
    sc = sim.load_scenario(path)
    runs = sim.run_variants(sc)
    out = write_variant_charts(runs, "/tmp/figs", prefix=sc.name + "_compare_")
    print([p.name for p in out])
    one = next(iter(runs.values()))
    print([p.name for p in write_charts(one, "/tmp/figs", prefix=sc.name + "_")])
