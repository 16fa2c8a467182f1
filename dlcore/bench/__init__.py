"""Benchmarks behind `dlcore bench <family>`: each module has run(threads, quick) and format_table."""
