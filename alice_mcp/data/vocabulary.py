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
    regenerate: str  # ``{job_id}`` and ``{windows}``: the windows' indexes joined by ``separator``
    separator: str = ", "

    def wait_for(self, job_id: str) -> str:
        """How to wait for (or resume) job ``job_id``."""
        return self.wait.format(job_id=job_id)

    def cancel_job(self, job_id: str) -> str:
        """How to cancel job ``job_id``."""
        return self.cancel.format(job_id=job_id)

    def regenerate_windows(self, job_id: str, windows: list[int]) -> str:
        """How to redo ``windows`` (indexes) of soundtrack ``job_id``, paying for those alone."""
        return self.regenerate.format(job_id=job_id, windows=self.separator.join(map(str, windows)))


MCP_WORDS = Vocabulary(
    wait='call get_generation with job_id "{job_id}"',
    cancel='call cancel_generation with job_id "{job_id}"',
    list_jobs="list_generations shows the recent ones",
    list_presets="list_audio_presets describes them",
    regenerate='call regenerate_soundtrack_windows with job_id "{job_id}" and regenerate [{windows}]',
)

CLI_WORDS = Vocabulary(
    wait="run `alice-mcp job {job_id} --wait`",
    cancel="run `alice-mcp job {job_id} --cancel`",
    list_jobs="`alice-mcp jobs` lists the recent ones",
    list_presets="`alice-mcp presets` lists them",
    regenerate="run `alice-mcp regenerate {job_id} {windows}`",
    separator=" ",
)

API_WORDS = Vocabulary(
    wait='call AliceOrchestrator.get_generation("{job_id}")',
    cancel='call AliceOrchestrator.cancel_generation("{job_id}")',
    list_jobs="AliceOrchestrator.list_generations() lists the recent ones",
    list_presets="AliceOrchestrator.list_presets() lists them",
    regenerate='call AliceOrchestrator.regenerate_soundtrack_windows("{job_id}", [{windows}])',
)
