"""Launches (utils/launch.py): torchrun, srun's tasks without torchrun, and a SLURM batch script's own process."""
import random
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import child_env, run_args, torchrun
from utils.checkpoint import read_checkpoint
from utils.launch import PORT_BASE, Launch, first_host, launch_environment

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("nodelist, host", [("node[01-04,07],gpu7", "node01"), ("n[3-5]-ib", "n3-ib"),
                                             ("gpu-a100-[12,14]", "gpu-a100-12"), ("alpha,beta", "alpha"),
                                             ("solo", "solo")])
def test_the_first_host_of_a_slurm_node_list(nodelist, host):
    assert first_host(nodelist) == host


def test_srun_tasks_form_one_group_and_a_batch_script_runs_alone():
    step = {"SLURM_JOB_ID": "4321", "SLURM_STEP_ID": "2", "SLURM_STEP_NUM_TASKS": "4", "SLURM_NTASKS": "4",
            "SLURM_PROCID": "3", "SLURM_LOCALID": "1", "SLURM_STEP_NODELIST": "c[7-8]"}
    assert launch_environment(step) == Launch(4, 3, 1, "srun", "c7", PORT_BASE + (4321 * 16 + 2) % 20000)
    batch = {"SLURM_JOB_ID": "4321", "SLURM_NTASKS": "4", "SLURM_PROCID": "0"}  # the sbatch script itself
    assert launch_environment(batch) == Launch()
    torchrun_env = {**step, "WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1", "MASTER_ADDR": "h", "MASTER_PORT": "9"}
    assert launch_environment(torchrun_env) == Launch(2, 1, 1, "torchrun", "h", 9)  # torchrun under srun: its own
    assert launch_environment({}) == Launch()


def free_job_id() -> int:
    """A job id whose derived port (step 0) is free on this machine."""
    for _ in range(100):
        job = random.randrange(1, 10_000)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", PORT_BASE + (job * 16) % 20000))
                return job
            except OSError:
                continue
    raise RuntimeError("no free port")


@pytest.mark.slow
def test_srun_without_torchrun_trains_as_torchrun_does(corpus, tmp_path):
    """Two tasks of an srun step running plain main.py form one process group: the run ends with the weights the
    same run under torchrun ends with, and writes one work directory's files once."""
    arguments = ["--num-epoch", "1", "--max-steps-per-epoch", "3", "--batch-size", "1", "--eval-interval", "1"]
    done = subprocess.run(torchrun(2, *run_args(corpus, tmp_path / "torchrun", *arguments)), cwd=REPO,
                          env=child_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    job = free_job_id()
    tasks = []
    for rank in range(2):
        env = child_env(SLURM_JOB_ID=str(job), SLURM_STEP_ID="0", SLURM_STEP_NUM_TASKS="2", SLURM_NTASKS="2",
                        SLURM_PROCID=str(rank), SLURM_LOCALID=str(rank), SLURM_STEP_NODELIST="localhost")
        tasks.append(subprocess.Popen([sys.executable, "main.py", *run_args(corpus, tmp_path / "srun", *arguments)],
                                      cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [task.communicate(timeout=900)[0] for task in tasks]
    assert [task.returncode for task in tasks] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    expected = read_checkpoint(tmp_path / "torchrun" / "last_checkpoint.pt")["model_state_dict"]
    got = read_checkpoint(tmp_path / "srun" / "last_checkpoint.pt")["model_state_dict"]
    assert all(torch.equal(got[key], value) for key, value in expected.items())
    log = (tmp_path / "srun" / "log.txt").read_text()
    assert "x2" in log and log.count("Phase train") == 1  # one run of two processes, not two runs


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["torchrun", "srun"])
def test_a_failing_process_ends_the_whole_launch(corpus, tmp_path, launcher):
    """Two processes, a corrupt frame in one training clip (read by one of them): the process that reads it stops
    with its one error line naming the frame, and the other one stops too, within a minute, with a line saying so,
    under torchrun and under srun alike (srun does not kill a step's other tasks by default)."""
    from test_error_matrix import corrupt_first_frame

    frame_root, frame = corrupt_first_frame(corpus, corpus["info_dir"], tmp_path)
    args = run_args(corpus, tmp_path / "work", "--num-epoch", "1", "--batch-size", "1", "--no-resume",
                    f"dataset_info.dataset_root={frame_root}", "feeder_args.skip_bad=false")
    if launcher == "torchrun":
        tasks = [subprocess.Popen(torchrun(2, *args), cwd=REPO, env=child_env(), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)]
    else:
        job, tasks = free_job_id(), []
        for rank in range(2):
            env = child_env(SLURM_JOB_ID=str(job), SLURM_STEP_ID="0", SLURM_STEP_NUM_TASKS="2", SLURM_PROCID=str(rank),
                            SLURM_LOCALID=str(rank), SLURM_STEP_NODELIST="localhost")
            tasks.append(subprocess.Popen([sys.executable, "main.py", *args], cwd=REPO, env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [task.communicate(timeout=600)[0] for task in tasks]
    assert all(task.returncode != 0 for task in tasks), outputs
    output = "".join(outputs)
    assert str(frame) in output and "unexpected failure" not in output, output[-3000:]
    if launcher == "srun":  # torchrun's agent may stop the other process first; under srun it stops by itself
        assert "error: another process of this run stopped" in output and "Traceback" not in output
