"""How each face names the next step a message suggests: the engine speaks of jobs, each face words its own hints.

The MCP face says ``get_generation``, the CLI says ``alice-mcp job ID --wait``, the Python API names its method. An
:class:`AliceCore` is created with the vocabulary of the face that serves it, and every message that tells the user
what to do next is worded with it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Vocabulary:
    """Templates for the next steps a message may suggest (``{job_id}`` is filled in)."""

    wait: str
    cancel: str
    list_jobs: str
    list_presets: str

    def wait_for(self, job_id: str) -> str:
        """How to wait for (or resume) job ``job_id``."""
        return self.wait.format(job_id=job_id)

    def cancel_job(self, job_id: str) -> str:
        """How to cancel job ``job_id``."""
        return self.cancel.format(job_id=job_id)


MCP_WORDS = Vocabulary(
    wait='call get_generation with job_id "{job_id}"',
    cancel='call cancel_generation with job_id "{job_id}"',
    list_jobs="list_generations shows the recent ones",
    list_presets="list_audio_presets describes them",
)

CLI_WORDS = Vocabulary(
    wait="run `alice-mcp job {job_id} --wait`",
    cancel="run `alice-mcp job {job_id} --cancel`",
    list_jobs="`alice-mcp jobs` lists the recent ones",
    list_presets="`alice-mcp presets` lists them",
)

API_WORDS = Vocabulary(
    wait='call AliceOrchestrator.get_generation("{job_id}")',
    cancel='call AliceOrchestrator.cancel_generation("{job_id}")',
    list_jobs="AliceOrchestrator.list_generations() lists the recent ones",
    list_presets="AliceOrchestrator.list_presets() lists them",
)
