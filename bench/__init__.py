"""Benchmarks and drills (SPEC §11-12). Each prints its figure beside a baseline measured in the
same run, and the ratio; run one with `python -m bench.NAME`, all with `make bench`."""
