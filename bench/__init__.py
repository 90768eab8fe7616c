"""The benchmarks: each prints its figures beside a ceiling measured in the same run, then its targets
(PASS or FAIL). Run from the repository's root as ``python -m bench.NAME`` (``make bench``)."""
