"""The `alice-mcp` command line as a subprocess against the fal twin: progress on stderr, the path on stdout, --json,
the documented exit codes, Ctrl-C cancelling the fal job."""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alice_mcp.cli.progress_bar import ProgressRenderer
from alice_mcp.data.progress import Progress
from tests.conftest import ALICE_BIN, FAKE_KEY, files_in
from tests.media import describe

KLING = "fal-ai/kling-video/v2.1/master/text-to-video"


def run_cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ALICE_BIN), *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_add_audio_prints_the_path_and_shows_progress_on_stderr(alice_env, clip, twin, output_dir) -> None:
    source = clip("rain.mp4")
    proc = run_cli(
        alice_env, "add-audio", str(source), "--preset", "rain-metal-roof", "--duration", "2", "--seed", "11"
    )
    assert proc.returncode == 0, proc.stderr
    out = Path(proc.stdout.strip())
    assert proc.stdout == f"{out}\n"  # stdout holds the path and nothing else
    assert (
        out.parent == output_dir.resolve()
        and out.exists()
        and describe(out).audio_duration == pytest.approx(2, abs=0.2)
    )
    for stage in ("Uploading", "Queued at fal", "Downloading", "Saved"):
        assert stage in proc.stderr, (stage, proc.stderr)
    percents = [int(line[1:4]) for line in proc.stderr.splitlines() if re.match(r"\[[ \d]{3}% \d+:\d\d\] ", line)]
    assert percents == sorted(percents) and percents[-1] == 100
    assert "seed 11" in proc.stderr and "\r" not in proc.stderr  # plain lines when stderr is not a terminal
    payload = twin.state.submits[0].payload
    assert payload["seed"] == 11 and "rain" in payload["prompt"] and payload["duration"] == 2


def test_json_result_and_every_table_flag_reaches_fal(alice_env, clip, twin) -> None:
    proc = run_cli(
        alice_env,
        "add-audio",
        str(clip()),
        "--prompt",
        "door creak",
        "--negative-prompt",
        "music",
        "--duration",
        "1.5",
        "--num-steps",
        "10",
        "--cfg-strength",
        "3",
        "--seed",
        "5",
        "--mask-away-clip",
        "--output",
        "door.mp4",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert (
        Path(result["output_path"]).name == "door.mp4"
        and result["seed"] == 5
        and result["cost_usd"] == pytest.approx(0.0015)
    )
    payload = twin.state.submits[0].payload
    assert {
        k: payload[k]
        for k in ("prompt", "negative_prompt", "duration", "num_steps", "cfg_strength", "seed", "mask_away_clip")
    } == {
        "prompt": "door creak",
        "negative_prompt": "music",
        "duration": 1.5,
        "num_steps": 10,
        "cfg_strength": 3.0,
        "seed": 5,
        "mask_away_clip": True,
    }


def test_media_option_flags_are_derived_from_the_pipeline_model(alice_env, clip, twin, output_dir) -> None:
    source = clip("long.mp4", seconds=3.0)
    proc = run_cli(
        alice_env,
        "add-audio",
        str(source),
        "--prompt",
        "birds",
        "--start-time",
        "1",
        "--duration",
        "1.5",
        "--quality",
        "draft",
        "--audio-format",
        "wav",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert twin.state.submits[0].payload["num_steps"] == 10  # the draft tier
    assert result["media"]["segment_start"] == pytest.approx(1.0) and result["duration"] == pytest.approx(1.5)
    assert Path(result["audio_path"]).suffix == ".wav" and Path(result["audio_path"]).exists()
    bad = run_cli(alice_env, "add-audio", str(source), "--prompt", "x", "--original-level", "5")
    assert bad.returncode == 3 and "`original_level`" in bad.stderr
    choice = run_cli(alice_env, "add-audio", str(source), "--prompt", "x", "--audio-format", "mp3")
    assert choice.returncode == 2 and "invalid choice" in choice.stderr


def test_text_to_audio_and_generate_video(alice_env, twin, output_dir) -> None:
    audio = run_cli(alice_env, "text-to-audio", "--preset", "campfire", "--duration", "2", "-q")
    assert audio.returncode == 0, audio.stderr
    assert audio.stdout.strip().endswith(".flac") and audio.stderr == ""  # --quiet: nothing on stderr
    video = run_cli(
        alice_env, "generate-video", "--prompt", "a fox in snow", "--aspect-ratio", "1:1", "--json", "--yes"
    )
    assert video.returncode == 0, video.stderr
    result = json.loads(video.stdout)
    assert result["duration"] == "5" and result["cost_usd"] == pytest.approx(1.40)
    assert describe(Path(result["output_path"])).video[:2] == (480, 480)
    assert [s.endpoint for s in twin.state.submits] == ["fal-ai/mmaudio-v2/text-to-audio", KLING]
    assert twin.state.submits[1].payload["duration"] == "5" and twin.state.submits[1].payload["aspect_ratio"] == "1:1"
    assert "add-audio" in video.stderr  # the next step is suggested


@pytest.mark.parametrize(
    ("args", "exit_code", "words"),
    [
        (["add-audio", "{clip}", "--num-steps", "many"], 2, "invalid int value"),
        (["add-audio"], 2, "VIDEO"),
        (["add-audio", "~/no/such/clip.mp4", "--prompt", "x"], 3, "Video not found"),
        (["add-audio", "/etc/passwd", "--prompt", "x"], 3, "ALICE_ALLOWED_DIRS"),
        (["generate-video", "--prompt", "x"], 3, "Pass --yes"),
        (["add-audio", "{clip}", "--prompt", "x", "--duration", "99"], 3, "`duration`"),
        (["add-audio", "{clip}", "--preset", "disco"], 3, "Unknown preset"),
        (["generate-video", "--prompt", "x", "--cfg-scale", "3"], 3, "`cfg_scale`"),
        (["add-audio", "{clip}", "--prompt", "x", "--output", "/etc/x.mp4"], 3, "outside the output folder"),
    ],
)
def test_exit_codes_for_usage_and_input(alice_env, clip, twin, args, exit_code, words) -> None:
    proc = run_cli(alice_env, *[str(clip()) if a == "{clip}" else a for a in args])
    assert proc.returncode == exit_code, proc.stderr
    assert words in proc.stderr and proc.stdout == ""
    assert twin.state.submit_count() == 0 and twin.state.uploads == []


def test_exit_code_config_when_the_key_is_missing(alice_env, clip, twin) -> None:
    env = {k: v for k, v in alice_env.items() if k != "FAL_KEY"}
    proc = run_cli(env, "add-audio", str(clip()), "--prompt", "x", "--json")
    assert proc.returncode == 4
    error = json.loads(proc.stdout)["error"]
    assert error["exit_code"] == 4 and "FAL_KEY" in error["message"] and error["code"] == "missing_key"


def test_exit_code_fal_when_the_job_fails(alice_env, clip, twin, output_dir) -> None:
    twin.state.fail_next_jobs(1, error="GPU ran out of memory", error_type="runner_server_error")
    proc = run_cli(alice_env, "add-audio", str(clip()), "--prompt", "x", "--duration", "1")
    assert proc.returncode == 5 and "GPU ran out of memory" in proc.stderr
    assert files_in(output_dir) == []


def test_exit_code_output_when_the_folder_cannot_be_created(alice_env, clip, twin, tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = run_cli({**alice_env, "ALICE_OUTPUT_DIR": str(blocker / "out")}, "add-audio", str(clip()), "--prompt", "x")
    assert proc.returncode == 6 and "not writable" in proc.stderr
    assert twin.state.submit_count() == 0


def test_ctrl_c_cancels_the_fal_job_and_leaves_no_file(alice_env, clip, twin, output_dir) -> None:
    twin.state.run_seconds = 30
    proc = subprocess.Popen(
        [str(ALICE_BIN), "add-audio", str(clip()), "--prompt", "x", "--duration", "1"],
        env=alice_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not twin.state.submits and time.monotonic() < deadline:
        time.sleep(0.05)
    assert twin.state.submits, "the job was never submitted"
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "Interrupted" in stderr and stdout == ""
    assert twin.state.cancels == [twin.state.submits[0].request_id]
    assert files_in(output_dir) == []


def test_presets_estimate_and_doctor(alice_env, clip, twin) -> None:
    presets = json.loads(run_cli(alice_env, "presets", "--json").stdout)["presets"]
    assert len(presets) >= 12 and {"tavern", "campfire"} <= {p["id"] for p in presets}
    human = run_cli(alice_env, "presets").stdout
    assert human.splitlines()[0].startswith("tavern ")

    estimate = run_cli(alice_env, "estimate", "--video", str(clip(seconds=3.0)), "--count", "2", "--json")
    assert estimate.returncode == 0, estimate.stderr
    assert json.loads(estimate.stdout)["usd"] == pytest.approx(0.006, abs=0.0002)
    kling = run_cli(alice_env, "estimate", "--model", "kling-v2.1-pro-text", "--duration", "10")
    assert kling.stdout.startswith("$2.80 ") and KLING in kling.stdout
    assert "$1.40 for the first 5 s + 5 s x $0.28/s = $2.80" in kling.stdout  # one money format everywhere

    doctor = run_cli(alice_env, "doctor", "--json")
    report = json.loads(doctor.stdout)
    assert doctor.returncode == 0 and report["ok"] is True
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["FAL_KEY"]["level"] == "ok" and "libx264 (encode)" in checks["codecs"]["detail"]
    assert alice_env["ALICE_OUTPUT_DIR"] in checks["output folder"]["detail"]
    assert (
        alice_env["ALICE_DATA_DIR"] in checks["data folder"]["detail"]
        and "ledger.sqlite3" in checks["job ledger"]["detail"]
    )
    assert f"may be read from {alice_env['HOME']}" in checks["read policy"]["detail"]
    assert "the output folder" in checks["read policy"]["detail"]
    prices = checks["prices"]["detail"]
    assert (
        "fal-ai/mmaudio-v2 $0.001 per second" in prices and f"{KLING} $1.40 for 5 s + $0.28 per extra second" in prices
    )
    assert FAKE_KEY not in doctor.stdout + doctor.stderr
    assert twin.state.requests == []  # doctor, presets and estimate are offline


def test_doctor_fails_without_a_key() -> None:
    proc = subprocess.run(
        [str(ALICE_BIN), "doctor"],
        env={"HOME": "/nonexistent", "ALICE_OUTPUT_DIR": "/tmp"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 4 and "[FAIL] FAL_KEY" in proc.stdout


def test_python_dash_m_is_the_same_command(alice_env) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "alice_mcp", "estimate", "--duration", "8", "--json"],
        env=alice_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and json.loads(proc.stdout)["usd"] == pytest.approx(0.008)


async def test_terminal_progress_is_one_redrawn_monotonic_bar() -> None:
    stream = io.StringIO()
    renderer = ProgressRenderer(stream, tty=True)
    for event in (
        Progress("uploading", "Uploading clip.mp4", 0.5),
        Progress("queued", "Queued at fal (position 2)", 0.0),
        Progress("uploading", "late event", 0.0),
        Progress("done", "Saved /x.mp4", 1.0),
    ):
        await renderer(event)
    renderer.close()
    frames = stream.getvalue().split("\r\x1b[2K")[1:]
    percents = [int(frame.split("]")[1].split("%")[0]) for frame in frames]
    assert percents == sorted(percents) and percents[-1] == 100
    assert frames[-1].startswith("[" + "#" * 24 + "]") and stream.getvalue().endswith("\n")
    assert stream.getvalue().count("\n") == 1  # one line, redrawn in place


def test_jobs_and_job_read_the_ledger(alice_env, clip, twin) -> None:
    source = clip()
    first = run_cli(alice_env, "add-audio", str(source), "--prompt", "rain", "--duration", "1", "--seed", "4", "--json")
    assert first.returncode == 0, first.stderr
    made = json.loads(first.stdout)
    again = run_cli(alice_env, "add-audio", str(source), "--prompt", "rain", "--duration", "1", "--seed", "4")
    assert again.returncode == 0 and again.stdout.strip() == made["output_path"] and "cached" in again.stderr
    forced = run_cli(
        alice_env, "add-audio", str(source), "--prompt", "rain", "--duration", "1", "--seed", "4", "--force"
    )
    assert forced.returncode == 0 and forced.stdout.strip() != made["output_path"]
    assert twin.state.submit_count() == 2  # the cached repeat paid nothing

    twin.state.fail_next_jobs(1, error="GPU ran out of memory", error_type="runner_server_error")
    failed = run_cli(alice_env, "text-to-audio", "--prompt", "x", "--duration", "1")
    assert failed.returncode == 5

    listing = json.loads(run_cli(alice_env, "jobs", "--json").stdout)
    assert [j["status"] for j in listing["jobs"]] == ["failed", "completed", "completed"]
    assert listing["total_cost_usd"] == pytest.approx(0.003)
    human = run_cli(alice_env, "jobs", "--status", "completed").stdout.splitlines()
    assert len(human) == 2 and made["job_id"] in human[1] and made["output_path"] in human[1]

    shown = run_cli(alice_env, "job", made["job_id"])
    assert shown.returncode == 0 and shown.stdout.strip() == made["output_path"]
    status = json.loads(run_cli(alice_env, "job", made["job_id"], "--json").stdout)
    assert status["status"] == "completed" and status["settings"]["seed"] == 4
    failed_id = listing["jobs"][0]["job_id"]
    failed_job = run_cli(alice_env, "job", failed_id)
    assert failed_job.returncode == 5 and "GPU ran out of memory" in failed_job.stdout
    missing = run_cli(alice_env, "job", "no-such-job")
    assert missing.returncode == 3 and "No job 'no-such-job'" in missing.stderr


def test_job_wait_finishes_a_job_whose_process_was_killed(alice_env, clip, twin, output_dir) -> None:
    twin.state.run_seconds = 2.0
    proc = subprocess.Popen(
        [str(ALICE_BIN), "add-audio", str(clip()), "--prompt", "x", "--duration", "1"],
        env=alice_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not twin.state.submits and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # let the ledger record fal's answer
    proc.kill()
    proc.wait(timeout=10)
    listing = json.loads(run_cli(alice_env, "jobs", "--json").stdout)["jobs"]
    assert [j["status"] for j in listing] == ["running"]
    finished = run_cli(alice_env, "job", listing[0]["job_id"], "--wait", "30")
    assert finished.returncode == 0, finished.stderr
    out = Path(finished.stdout.strip())
    assert out.parent == output_dir.resolve() and describe(out).audio_codec is not None
    assert twin.state.submit_count() == 1  # resumed by request id, never re-submitted
