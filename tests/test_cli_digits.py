"""`python -m bnnlab train --dataset digits … --json`: the contract fields plus the K-class and
OOD ones, consistent with each other (a few steps: not a quality test)."""

from __future__ import annotations

import json

from bnnlab import cli


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


def test_digits_refuses_an_over_budget_run(capsys):
    """Settings over the cost budget with digits' D = 64 and K = 10: exit 2, one message."""
    code = cli.main(["train", "--dataset", "digits", "--method", "vi", "--hidden",
                     "128,128,128,128", "--num-samples", "64", "--steps", "100000", "--json"])
    assert code == 2
    assert "bnnlab: error:" in capsys.readouterr().err
