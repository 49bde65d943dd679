"""Who launched this process and as which of how many: torchrun (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR/PORT),
SLURM's srun without torchrun (a job step of several tasks: SLURM_STEP_NUM_TASKS, SLURM_PROCID, SLURM_LOCALID, the
first host of the step's node list, a port derived from the job and step), or nobody (one process). Without this,
`srun --ntasks 2 python main.py` would start two runs of one process each writing the same work directory.
Imports no torch: main.py checks a launch before loading it."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Mapping

PORT_BASE, PORT_SPAN = 15000, 20000  # srun: MASTER_PORT = 15000 + (job id x 16 + step id) mod 20000


@dataclass(frozen=True)
class Launch:
    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    launcher: str = "single"  # "torchrun" (or anything that sets WORLD_SIZE), "srun", "single"
    master_addr: str | None = None
    master_port: int | None = None


def first_host(nodelist: str) -> str:
    """The first host of a SLURM node list: `node[01-04,07],gpu7` -> `node01`, `n[3-5]-ib` -> `n3-ib`."""
    depth, end = 0, len(nodelist)
    for index, character in enumerate(nodelist):
        depth += {"[": 1, "]": -1}.get(character, 0)
        if character == "," and depth == 0:
            end = index
            break
    first = nodelist[:end].strip()
    return re.sub(r"\[([^\]]*)\]", lambda match: re.split(r"[-,]", match.group(1))[0], first)


def launch_environment(environ: Mapping[str, str] | None = None) -> Launch:
    """This process's place in its launch (module docstring). A SLURM batch script's own process (SLURM_NTASKS
    set, but no job step of several tasks) runs alone."""
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" in env:
        return Launch(int(env["WORLD_SIZE"]), int(env.get("RANK", "0")), int(env.get("LOCAL_RANK", "0")),
                      "torchrun", env.get("MASTER_ADDR"), int(env["MASTER_PORT"]) if "MASTER_PORT" in env else None)
    tasks = int(env.get("SLURM_STEP_NUM_TASKS", "1") or 1)
    if tasks > 1 and "SLURM_PROCID" in env:
        nodes = env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST") or "localhost"
        job, step = int(env.get("SLURM_JOB_ID", "0") or 0), int(env.get("SLURM_STEP_ID", "0") or 0)
        return Launch(tasks, int(env["SLURM_PROCID"]), int(env.get("SLURM_LOCALID", "0")), "srun",
                      first_host(nodes), PORT_BASE + (job * 16 + step) % PORT_SPAN)
    return Launch()


def export_for_torch(launch: Launch) -> None:
    """The variables torch.distributed's env:// rendezvous reads, for an srun launch (torchrun sets its own)."""
    if launch.launcher != "srun":
        return
    os.environ.update({"WORLD_SIZE": str(launch.world_size), "RANK": str(launch.rank),
                       "LOCAL_RANK": str(launch.local_rank), "MASTER_ADDR": str(launch.master_addr),
                       "MASTER_PORT": str(launch.master_port)})
