"""Stage timings and peak memory of the nightly run on generated data (`make bench`)."""
