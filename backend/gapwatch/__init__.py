"""Gapwatch: continual-learning experiment tracking that shows the stability gap."""
