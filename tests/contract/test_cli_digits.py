"""`python -m bnnlab train --dataset digits … --json`: the contract fields plus the K-class and
OOD ones, consistent with each other (a few steps: not a quality test)."""

from __future__ import annotations

import json

import pytest

from bnnlab import cli
from bnnlab.core import verdict


@pytest.mark.slow
def test_digits_json_has_the_contract_and_ood_fields(capsys):
    """The last line is one JSON object with the contract fields, num_classes 10 and the OOD
    AUROCs in [0, 1]; ood_auroc lies between the letters' and the noise's."""
    code = cli.main(["train", "--dataset", "digits", "--method", "map", "--hidden", "8",
                     "--steps", "30", "--steps-per-chunk", "10", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(cli.CONTRACT_FIELDS) <= set(report)
    assert report["num_classes"] == 10 and report["steps"] == 30
    for key in ("ood_auroc", "ood_auroc_letters", "ood_auroc_noise", "test_acc", "ece"):
        assert 0.0 <= report[key] <= 1.0, key
    lo, hi = sorted([report["ood_auroc_letters"], report["ood_auroc_noise"]])
    assert lo - 1e-9 <= report["ood_auroc"] <= hi + 1e-9
    assert report["ood_auroc_mi_letters"] == 0.5  # MAP: mutual information is 0 everywhere


@pytest.mark.slow
def test_digits_json_has_the_one_verdict_with_its_errors(capsys):
    """The JSON carries the one verdict (a kind of `core.verdict`, and its sentence) with
    epistemic near/far and the four Monte Carlo standard errors, for letters and noise and for
    the letters alone; VI's draws give errors > 0 and below the figures they qualify."""
    code = cli.main(["train", "--dataset", "digits", "--method", "vi", "--hidden", "8",
                     "--steps", "30", "--steps-per-chunk", "10", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for suffix in ("", "_letters"):
        assert report["verdict" + suffix] in verdict.KINDS
        assert verdict.HEADLINES[report["verdict" + suffix]] in report["verdict_sentence" + suffix]
        for name in ("entropy_far", "epistemic_far"):
            assert report[name + suffix] >= 0 and report[name + suffix + "_se"] >= 0
    for name in ("entropy_near_se", "entropy_far_se", "epistemic_near_se", "epistemic_far_se"):
        assert 0 < report[name] < max(report[name[:-3]], 1e-3), name
    assert report["epistemic_near"] <= report["entropy_near"]


def test_digits_refuses_an_over_budget_run(capsys):
    """Settings over the cost budget with digits' D = 64 and K = 10: exit 2, one message."""
    code = cli.main(["train", "--dataset", "digits", "--method", "vi", "--hidden",
                     "128,128,128,128", "--num-samples", "64", "--steps", "100000", "--json"])
    assert code == 2
    assert "bnnlab: error:" in capsys.readouterr().err
