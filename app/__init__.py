"""The composition root: builds a process's components and runs the use cases that span them.

`runtime` opens the catalog, the index and the model; `sources` reads steward.yaml and builds
its connectors; `sync` syncs a source, then scans and evaluates. The CLI, the API and the jobs
call these; the domain packages never import them.
"""
