"""Gapwatch worker: trains continual-learning runs and reports them over the REST API."""
