"""Plain data of mesopress: specs, configuration parsing, change checks and ids.

Everything here is pure and uses only the standard library (plus PyYAML, in ``config``, for parsing
text). Higher layers (offers, plans, scheduler) import from here; nothing here imports them.
"""
