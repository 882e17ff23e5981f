"""Pure offer evaluation: which offer to use for which pod instance, and what to send.

Modules: ``requests`` (requests, footprints and the context going in), ``labels`` and ``operations``
(the refined JSON of facts §2), ``pool`` (an offer indexed once, with reserve/take claims),
``placement``, ``stages`` and ``pipelines`` (small checks that each take from the pool), ``tasks`` (the
TaskInfo of a LAUNCH), ``cleanup`` (our labelled resources that no known instance owns),
``evaluator`` (runs it all and decides accept or decline) and ``samples`` (Mesos-shaped offers for
tests and simulations). Nothing here talks to Mesos: the scheduler core stores the returned
footprints, then sends.
"""
