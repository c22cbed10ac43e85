"""Dependencies of the routes, as `Annotated` aliases; tests swap them with dependency_overrides."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from api.metrics import ServiceMetrics
from app.runtime import Runtime
from retrieval.search import Retriever


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_retriever(request: Request) -> Retriever:
    retriever: Retriever = request.app.state.retriever
    return retriever


def get_metrics(request: Request) -> ServiceMetrics:
    metrics: ServiceMetrics = request.app.state.metrics
    return metrics


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
RetrieverDep = Annotated[Retriever, Depends(get_retriever)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]

# A listing's page size.
Limit = Annotated[int, Query(ge=1, le=500)]
