"""Rollout: a reconcile loop (observe -> decide -> act -> record) over a serving `Target`."""
