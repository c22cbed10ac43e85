"""/keys: API keys an admin makes, lists and revokes while the server runs (stored hashed)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Admin
from api.schemas import NOT_FOUND
from steward.stored_keys import StoredKeys

router = APIRouter(tags=["keys"])


def get_stored_keys(request: Request) -> StoredKeys:
    stored: StoredKeys = request.app.state.stored_keys
    return stored


StoredKeysDep = Annotated[StoredKeys, Depends(get_stored_keys)]
KeyName = Annotated[str, Path(min_length=1, max_length=100)]


class KeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=100, description="Recorded as the actor.")
    role: Literal["reader", "app", "owner", "admin"]
    groups: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=100
    )
    expires_in: str | None = Field(
        None,
        max_length=20,
        description="How long the key works from now: a whole number and a unit (s, m, h, d, "
        "w), e.g. 90d. Absent: it never expires.",
    )


class KeyItem(BaseModel):
    name: str
    role: str
    groups: list[str]
    created_at: str
    created_by: str
    revoked_at: str | None
    revoked_by: str | None
    expires_at: str | None = Field(..., description="When the key stops working; null: never.")
    expired: bool


class KeyMade(BaseModel):
    name: str
    role: str
    groups: list[str]
    key: str = Field(..., description="Shown this once; only its digest is stored.")
    expires_at: str | None = Field(..., description="When the key stops working; null: never.")


@router.post("/keys", status_code=201, response_model=KeyMade)
def make_key(body: KeyBody, caller: Admin, stored: StoredKeysDep) -> dict[str, Any]:
    """A new API key (422 when the name is taken or declared in the settings, or the lifetime
    is not one)."""
    key, groups, expires_at = stored.create(
        body.name, body.role, body.groups, caller.actor(None), body.expires_in
    )
    return {
        "name": body.name,
        "role": body.role,
        "groups": groups,
        "key": key,
        "expires_at": expires_at.isoformat() if expires_at else None,
    }


@router.get("/keys", response_model=list[KeyItem])
def list_keys(_caller: Admin, stored: StoredKeysDep) -> list[dict[str, Any]]:
    """The stored keys (never a key or its digest); declared keys live in the settings."""
    return [found.as_dict() for found in stored.listed()]


@router.post("/keys/{name}/revoke", status_code=204, responses=NOT_FOUND)
def revoke_key(name: KeyName, caller: Admin, stored: StoredKeysDep) -> None:
    """Revoke a stored key: refused from the next request on (audited)."""
    stored.revoke(name, caller.actor(None))
