"""Helpers shared by the test tiers (import as `from support import waiting`)."""
