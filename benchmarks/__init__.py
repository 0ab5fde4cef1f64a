"""Side-by-side benchmarks of redis-agent-pack against its peers (not part of the package)."""
