"""The `steward` command line: `cli.main:app` is the console script."""
