"""Pod kinds: what is specific to Galera, WordPress, the proxy and media pods (pure; see scheduler_kinds)."""
