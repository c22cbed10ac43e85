"""Knowledge hygiene: near-duplicates, staleness and conflicts."""
