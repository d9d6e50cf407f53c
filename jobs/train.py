"""Entry point for `ray job submit`: the same arguments as `w2v train`.

Run it the way a cluster runs it:

    python -m jobs.train sample: --out /tmp/w2v-demo                       # embedded Ray
    python -m jobs.train --config jobs/sample.yaml --out /tmp/w2v-demo     # the same, from YAML
    python -m jobs.train --config jobs/sample.yaml --out /tmp/w2v-demo --dry-run   # the plan only
    ray job submit --working-dir . -- python -m jobs.train --config jobs/sample.yaml --out /tmp/w2v-demo

Inside `ray job submit`, $RAY_ADDRESS is set, so the job joins that cluster. Its output is what
`ray job logs` shows: the plan, one line per epoch (no progress bar: stderr is not a terminal),
per-stage timings and the artifact's location. Configs for typical runs: jobs/*.yaml.
"""

import sys

from w2v.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]], whole_process=True))
