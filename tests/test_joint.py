"""Joint Sign2(Gloss+Text) (tasks/joint.py): a translation decoder on the recogniser's BiLSTM features, its loss
added to the recognition losses, which stay as they are."""
import json

import pytest
import torch

import main as entry
from conftest import JOINT_ARGS, run_args
from dataset.paths import DataPaths
from modules.losses import SLRLoss
from tasks.joint import JointTask
from tasks.recognition import RecognitionSteps
from training.trainer import agree
from utils.distributed import DistContext
from utils.precision import Precision
from utils.provenance import RunRecord

JOINT = list(JOINT_ARGS)


def test_the_joint_loss_is_the_recognition_loss_plus_the_weighted_translation_loss(corpus, tmp_path):
    config = entry.config_from_args(run_args(corpus, tmp_path, *JOINT, "translation_args.loss_weight=0.5",
                                             "model_args.lstm_dropout=0", "model_args.backbone.dropout=0"))
    context = DistContext(torch.device("cpu"))
    task = JointTask(config, context, DataPaths(config), RunRecord({}))
    task.training_data()
    batch = next(iter(task.epoch_batches(0, 0)))
    local = task.local_step([batch])
    words = sum(len(task.targets["train"][info["fileid"]]) - 1 for info in batch.info)
    assert local.sums == (batch.video.shape[0], words)
    agreed = agree(context, local, stop=False, save=False)
    [(padded, plan)] = task.plan(local, agreed)
    task.model.train()
    torch.manual_seed(0)
    joint = task.loss(task.model, padded, plan, context, Precision())
    recognition = RecognitionSteps(SLRLoss(config.loss_weights.active()), task.model.conv1d)
    [(same, recognition_plan)] = recognition.plan(recognition.local_step([batch]), agreed)
    torch.manual_seed(0)
    alone = recognition.loss(task.model, same, recognition_plan, context, Precision())
    for key, value in alone.parts.items():
        assert torch.equal(joint.parts[key], value.detach()), key
    assert float(joint.total.detach()) == pytest.approx(float(alone.total.detach()) + 0.5 * float(joint.parts["Translation"]))
    assert float(joint.parts["Translation"]) > 0
    joint.total.backward()  # the translation loss reaches the recogniser's features
    assert task.model.temporal_model[0].rnn.weight_ih_l0.grad.abs().sum() > 0
    assert task.model.translator.output.weight.grad.abs().sum() > 0


@pytest.mark.slow
def test_joint_training_reports_wer_and_bleu_and_predicts_sentences(corpus, joint_trained, tmp_path):
    work = joint_trained
    history = json.loads((work / "training_history.json").read_text())
    assert all(set(record["wer"]) == set(record["translation"]) == {"dev", "test"} for record in history["epochs"])
    bleu = [record["translation"]["dev"]["bleu4"] for record in history["epochs"]]
    assert history["best_bleu4"] == max(bleu) and "Translation" in history["epochs"][0]["parts"]
    results = json.loads((work / "test_results.json").read_text())
    assert {"wer", "translation"} <= set(results["dev"])
    chosen = results["dev"]["translation"]
    assert "Chosen on dev" in (work / "log.txt").read_text()
    from utils.checkpoint import read_checkpoint  # the test's choice is recorded where the model goes

    decoding = read_checkpoint(work / "best_model.pt")["translation"]["decoding"]
    assert decoding["beam_size"] in (1, 2) and chosen["sentences"] == 12
    rows = [line.split("\t") for line in (work / "translations-test.tsv").read_text().splitlines()[1:]]
    assert len(rows) == 8 and all(len(row) == 4 for row in rows)
    clip = corpus["frames"] / "test" / "synthetic_test_00000" / "1"
    assert entry.main(run_args(corpus, tmp_path, *JOINT, "--phase", "predict", "--load-weights",
                               str(work / "best_model.pt"), "--input", str(clip))) == 0
    predicted = json.loads((tmp_path / "predictions" / "synthetic_test_00000.json").read_text())
    assert predicted["translation"] == dict(row[:2] for row in rows)["synthetic_test_00000"]
