"""Steward's Python client: one protocol, an HTTP implementation here, an in-process one in app/.

    from client import HttpClient

    with HttpClient("http://localhost:8000", api_key=None) as steward:
        answer = steward.retrieve("how long is the refund window?", top_k=3)

It imports only the kernel (steward/), httpx and pydantic, never the engine, so an application
can depend on it alone.
"""

from client.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ClientError,
    ConflictError,
    FieldError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    SyncError,
    SyncFailedError,
    SyncTimeoutError,
    TransportError,
    UnavailableError,
)
from client.http import AsyncHttpClient, HttpClient
from client.models import (
    AuditPage,
    Comparison,
    ConflictItem,
    ConflictPage,
    Document,
    DuplicateCluster,
    DuplicatePage,
    EvalRun,
    FeedbackSummary,
    GoldenSet,
    Health,
    RetrievedChunk,
    RetrieveResponse,
    ScanRecord,
    ScanResult,
    Source,
    StaleItem,
    StalePage,
    SyncProgress,
    SyncRun,
)
from client.protocol import Progress, StewardClient
from client.retry import Retry

__all__ = [
    "ApiError",
    "AsyncHttpClient",
    "AuditPage",
    "AuthenticationError",
    "BadRequestError",
    "ClientError",
    "Comparison",
    "ConflictError",
    "ConflictItem",
    "ConflictPage",
    "Document",
    "DuplicateCluster",
    "DuplicatePage",
    "EvalRun",
    "FeedbackSummary",
    "FieldError",
    "GoldenSet",
    "Health",
    "HttpClient",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "Progress",
    "RateLimitError",
    "RequestTimeoutError",
    "Retry",
    "RetrieveResponse",
    "RetrievedChunk",
    "ScanRecord",
    "ScanResult",
    "ServerError",
    "Source",
    "StaleItem",
    "StalePage",
    "StewardClient",
    "SyncError",
    "SyncFailedError",
    "SyncProgress",
    "SyncRun",
    "SyncTimeoutError",
    "TransportError",
    "UnavailableError",
]
