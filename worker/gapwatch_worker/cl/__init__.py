"""The continual-learning engine: pure PyTorch, no Celery, no HTTP, no database.

`loop.run_experiment(spec, reporter)` trains one `RunSpec` and reports every point through a
`reporting.Reporter`; benchmarks, models and strategies are registries keyed by the spec's name.
"""
