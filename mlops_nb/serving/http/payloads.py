"""Response bodies of the model server, as pydantic models for the OpenAPI document.

The server writes its JSON itself (it is faster than validating every response
through pydantic); these models only describe it in ``/openapi.json`` and /docs.
The request body's schema is generated from the model's signature (see ``schema``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "ErrorItem",
    "ErrorResponse",
    "HealthResponse",
    "MetadataResponse",
    "PredictResponse",
]


class PredictResponse(BaseModel):
    """Predictions for the records sent, in order."""

    model: str = Field(description="The model name.")
    version: int = Field(description="The registered version that made the predictions.")
    request_id: str = Field(description="Id of this request in the inference log.")
    predictions: list[Any] = Field(description="One prediction per record.")
    probabilities: list[dict[str, float | None]] | None = Field(
        default=None,
        description="Classifiers only: one mapping class -> probability per record.",
    )


class ErrorItem(BaseModel):
    """One failing value."""

    row: int | None = Field(description="0-based position of the record (None: whole body).")
    column: str | None = Field(description="The column (key) at fault.")
    check: str = Field(
        description="The contract check that failed, in pandera's words: in_range(18, 100), "
        "isin([...]), not_nullable, coerce_dtype('int64') (wrong JSON type), "
        "column_in_dataframe (missing key), column_in_schema (unknown key)."
    )
    value: Any = Field(default=None, description="The value sent (long text is cut).")


class ErrorResponse(BaseModel):
    """Why a request was refused."""

    detail: str = Field(description="What is wrong and how to fix it.")
    errors: list[ErrorItem] = Field(default_factory=list, description="Each failing value.")
    error_count: int | None = Field(
        default=None, description="Number of failures (errors lists at most the first 1,000)."
    )


class HealthResponse(BaseModel):
    """The server is up and serving this model version."""

    status: str
    model: str
    version: int


class MetadataResponse(BaseModel):
    """What the served version is, what it expects and where it comes from."""

    name: str
    version: int
    ref: str
    aliases: list[str]
    task: str
    target: str
    created_at: str
    metrics: dict[str, float | None]
    lineage: dict[str, str | None]
    classes: list[Any]
    signature: dict[str, Any]
    limits: dict[str, int]
    inference_log: dict[str, Any]
