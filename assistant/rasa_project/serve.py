"""`python -m assistant.rasa_project.serve run ...` is `rasa run ... --auth-token $DASI_RASA_TOKEN`, with
the token passed in the environment (readable by this user only) instead of on the command line, which
every local user can read (`ps`); the REST channel (rest_channel.py) gets it too. `dasi up`
(assistant/cli/supervisor.py) starts Rasa this way.

Runs inside the Rasa virtualenv (Python 3.10): it may import only Rasa.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

TOKEN_ENV = "DASI_RASA_TOKEN"


def rasa_argv(args: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """Rasa's command line: `args` plus `--auth-token` when the environment has a token."""
    token = env.get(TOKEN_ENV, "").strip()
    return ["rasa", *args, *(["--auth-token", token] if token else [])]


def main() -> None:
    sys.argv = rasa_argv(sys.argv[1:], os.environ)  # the process's own argv, not /proc/PID/cmdline
    token = os.environ.pop(TOKEN_ENV, "").strip()  # Rasa has it now; its children need not
    from rasa.__main__ import main as rasa_main

    from assistant.rasa_project import rest_channel, tracker_store

    tracker_store.use_keys(os.environ.pop(tracker_store.DATA_KEY_ENV, ""))  # for the encrypted tracker store

    rest_channel.require_token(token)  # its API checks the token; this makes the REST channel check it too

    rasa_main()


if __name__ == "__main__":
    main()
