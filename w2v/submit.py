"""Submit `python -m jobs.train` to a Ray cluster through the Jobs API, and follow it.

`w2v submit` is `ray job submit --working-dir . -- python -m jobs.train ...` with three things
added: the training arguments are validated on the laptop first (a typo fails in a second, not
after the upload); the cluster's token is found and sent (Ray 2.60 clusters use token auth, and
the Jobs client only sends a token when `RAY_AUTH_MODE=token` is set); the exit code is the job's
own (its driver's: 0 when it SUCCEEDED, `w2v train`'s codes when it failed, 1 when it was STOPPED),
so scripts can chain on it.

This module does not train: the job's driver runs `jobs/train.py` on the cluster's head node.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import shlex
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Sequence

from .display import userinfo
from .errors import ClusterError
from .extras import require

logger = logging.getLogger(__name__)

DEFAULT_ADDRESS = "http://127.0.0.1:8265"  # the dashboard of a local head, as `ray start --head` prints
# Never uploaded with the working directory (.gitignore'd files are skipped by Ray as well).
EXCLUDES = [".git", ".venv", "**/__pycache__", "*.npy", "*.bin"]
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")
ERROR_PREFIX = "w2v: error: "  # how the job's driver prints its one error line (cli.main)


def job_address(address: str | None) -> str:
    """The Jobs API address: the flag, else $RAY_API_SERVER_ADDRESS, else an http $RAY_ADDRESS, else local.

    >>> job_address("http://head:8265")
    'http://head:8265'
    """
    if address:
        return address
    for name in ("RAY_API_SERVER_ADDRESS", "RAY_ADDRESS"):
        value = os.environ.get(name, "")
        if value.startswith(("http://", "https://")):
            return value
    return DEFAULT_ADDRESS


def auth_token() -> str | None:
    """The cluster token, looked up where Ray looks: $RAY_AUTH_TOKEN, $RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return os.environ["RAY_AUTH_TOKEN"].strip()
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token").expanduser()
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def looks_secret(name: str) -> bool:
    """Whether an environment variable's name says it holds a secret (a key, a token, a password).

    >>> looks_secret("AWS_SECRET_ACCESS_KEY"), looks_secret("HF_TOKEN"), looks_secret("LANG")
    (True, True, False)
    """
    return any(word in name.upper() for word in ("SECRET", "TOKEN", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL"))


def entrypoint(train_args: Sequence[str], python: str = "python") -> str:
    """The job's shell command.

    >>> entrypoint(["--config", "jobs/sample.yaml", "--out", "/tmp/a b"])
    "python -m jobs.train --config jobs/sample.yaml --out '/tmp/a b'"
    """
    return shlex.join([python, "-m", "jobs.train", *train_args])


def client(address: str):
    """A JobSubmissionClient that sends the token when one is found (a cluster without auth ignores it).

    A login in the address (`http://user:password@head:8265`, a head behind a proxy with basic auth) is
    taken out of it and sent as a Basic Authorization header instead: Ray never sees it, so no error or
    log line of Ray's can quote it (Ray once printed `'admin:hunt' is not a valid host or port`).
    """
    JobSubmissionClient = require("ray.job_submission", "w2v submit").JobSubmissionClient

    logging.getLogger("ray").setLevel(logging.WARNING)  # upload chatter (after import: Ray sets it there)
    token, login = auth_token(), userinfo(address)
    headers, target = ({"Authorization": f"Bearer {token}"} if token else None), address
    if login is not None:
        basic = base64.b64encode(urllib.parse.unquote(login).encode("utf-8")).decode("ascii")
        headers, target = {"Authorization": f"Basic {basic}"}, address.replace(login + "@", "", 1)
    try:
        return JobSubmissionClient(target, headers=headers)
    except Exception as exc:  # ConnectionError, AuthenticationError, ...: one readable line (redacted: W2VError)
        raise ClusterError(f"cannot reach the Ray Jobs API at {address}: {str(exc).splitlines()[0]}") from None


def submit(address: str, train_args: Sequence[str], working_dir: str, python: str = "python",
           submission_id: str | None = None, env: dict[str, str] | None = None) -> tuple[object, str]:
    """Upload `working_dir` and start `python -m jobs.train ARGS`; returns (client, job id)."""
    c = client(address)
    runtime_env: dict = {"working_dir": working_dir, "excludes": EXCLUDES}
    if env:
        runtime_env["env_vars"] = dict(env)
    job_id = c.submit_job(entrypoint=entrypoint(train_args, python), runtime_env=runtime_env,
                          submission_id=submission_id)
    return c, job_id


def exit_code(c, job_id: str) -> int:
    """The ended job's exit code: its driver's (`w2v train`'s table, errors.EXIT_CODES), 1 when it has none.

    A job stopped, or whose driver was killed, has no exit code of its own.
    """
    code = c.get_job_info(job_id).driver_exit_code
    return code if isinstance(code, int) and code > 0 else 1


@dataclass
class Followed:
    """How a followed job ended."""

    status: str  # SUCCEEDED, FAILED or STOPPED
    error: str | None  # the job's last `w2v: error: ...` line, without that prefix; None when it printed none


def follow(c, job_id: str, out: IO[str] = sys.stdout, poll_seconds: float = 1.0) -> Followed:
    """Print the job's logs as they come until it ends; its final status and its last error line.

    Ray's log stream logs `WebSocket closed ...` when it ends and raises RuntimeError when it breaks: the first
    is silenced (it was the last line a user saw, not the error), the second only ends the streaming, and the
    status is polled as after a normal end.
    """
    logging.getLogger("ray.dashboard.modules.job.sdk").setLevel(logging.WARNING)
    errors: list[str] = []  # the job's `w2v: error:` lines, in order

    async def tail() -> None:
        pending = ""  # a line cut between two chunks
        async for chunk in c.tail_job_logs(job_id):
            out.write(chunk)
            out.flush()
            *lines, pending = (pending + chunk).split("\n")
            errors.extend(line[len(ERROR_PREFIX):] for line in lines if line.startswith(ERROR_PREFIX))

    try:
        asyncio.run(tail())
    except RuntimeError as exc:  # the stream broke (the head restarted, a proxy timed out): the status says more
        logger.warning("the job's log stream broke (%s); waiting for its status", exc)
    while True:  # the log stream closes when the job ends; its status may lag a moment
        status = str(c.get_job_status(job_id).value)
        if status in TERMINAL:
            return Followed(status, errors[-1] if errors else None)
        time.sleep(poll_seconds)
