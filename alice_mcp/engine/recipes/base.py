"""What every recipe has: its job kind, its endpoint, and how a finished job's output becomes the user's file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from alice_mcp.data.endpoints import Endpoint

if TYPE_CHECKING:
    from alice_mcp.adapters.ledger import JobRecord
    from alice_mcp.jobs.manager import JobManager
    from alice_mcp.jobs.services import Finish


class Recipe:
    """One fal endpoint as the engine runs it. ``kind`` is the job kind recorded in the ledger (and the tool that
    starts such jobs); subclasses add ``prepare`` (plan a job from a request) and ``result`` (render a record)."""

    kind: ClassVar[str]

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    def finisher(self, record: JobRecord) -> Finish | None:
        """How a finished job of this recipe is delivered; ``None``: its output file is the result (downloaded to
        the wanted path)."""
        return None

    def result(self, record: JobRecord, jobs: JobManager, started: float, *, cached: bool = False) -> Any:
        """The face-ready result model of a job of this recipe."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoint.id!r})"
