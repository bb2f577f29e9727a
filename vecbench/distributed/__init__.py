"""Ray as vecbench's distributed engine (``pip install 'vecbench[ray]'``; imported only when
asked for, with ``executor: ray`` / ``--executor ray``).

- ``cells.RayExecutor``: cells as Ray tasks on any node; a server store's cells one at a time;
- ``load.measure_load_ray``: closed- and open-loop load from Ray actors on many nodes, one
  shared start time, latency from each request's intended send time, per-actor
  HdrHistograms merged exactly (``hdr``);
- ``truth.sharded_knn``: exact ground truth sharded over nodes and merged;
- ``embed.embed_corpus``: corpus embedding with Ray Data;
- ``cluster``: joining a cluster (address checked first), its shape, its CPUs.
"""
