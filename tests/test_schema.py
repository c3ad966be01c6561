"""One validated schema for every params block: a wrong type, an out-of-range value or an unknown
key is a one-line error naming the file and the key, from stages, the CLI and profiles alike."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO

from ballspot.app.profiles import apply_profiles
from ballspot.core.errors import BallspotError
from ballspot.core.params import load_params
from ballspot.pipeline.blocks import schema_keys, schemas
from ballspot.pipeline.schema import RULES, Rule, check_params

WRONG_TYPE = {"int": "four", "float": "fast", "bool": "yes", "str": 5, "strs": "PASS",
              "ints": "1", "pair": [1.0], "size": "1280x736", "map": 3, "weights": 3,
              "folds": ["a"], "device": "tpu"}


def _nested(where: tuple[str, ...], key: str, value: Any) -> dict[str, Any]:
    params: dict[str, Any] = {key: value}
    for part in reversed(where):
        params = {part: params}
    return params


def _out_of_range(rule: Rule) -> Any:
    if rule.choices is not None:
        return ["nope"] if rule.kind == "strs" else "nope"
    if rule.high is not None:
        value = rule.high if rule.below else rule.high + 1
    elif rule.low is not None:
        value = rule.low - 1
    else:
        return None
    if rule.kind.startswith("int"):
        value = int(value) if value == int(value) else int(value) + 1
    return [value, value] if rule.kind in ("pair", "ints") else value


CASES = [(where, key, rule) for where, rules in RULES.items() for key, rule in rules.items()]


def _id(case: tuple) -> str:
    return ".".join(case[0]) + "." + case[1]


def test_the_rules_cover_exactly_the_fields_of_each_block() -> None:
    assert set(RULES) == set(schemas())
    for where in RULES:
        assert set(RULES[where]) == schema_keys(where), where


@pytest.mark.parametrize("name", ["params.yaml", "profiles/paper.yaml", "profiles/2024.yaml",
                                  "profiles/tiny.yaml"])
def test_the_shipped_params_and_profiles_pass(name: str) -> None:
    if name == "params.yaml":
        check_params(load_params(REPO / name), name)
    else:
        apply_profiles([Path(name).stem], REPO / "params.yaml", REPO / "profiles")


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_every_key_rejects_a_wrong_type_and_an_out_of_range_value(case: tuple) -> None:
    where, key, rule = case
    dotted = ".".join((*where, key))
    bad = [WRONG_TYPE[rule.kind.rstrip("?")]]
    if (value := _out_of_range(rule)) is not None:
        bad.append(value)
    for value in bad:
        with pytest.raises(BallspotError) as info:
            check_params(_nested(where, key, value), "bad.yaml")
        message = str(info.value)
        assert message.startswith("bad.yaml: ") and f"'{dotted}'" in message, message
        assert "\n" not in message


@pytest.mark.parametrize("params, words", [
    ({"dataset": {"classes": "PASS"}}, "'dataset.classes' must be a list of strings"),
    ({"dataset": {"clases": ["PASS"]}}, "unknown key 'dataset.clases'"),
    ({"dataset": {"fps": -25}}, "'dataset.fps' must be at least"),
    ({"train": {"batch_size": "four"}}, "'train.batch_size' must be an integer"),
    ({"train_basic": {"optimizer": "adamm"}}, "must be one of ['adamw', 'sgd']"),
    ({"train_basic": {"device": "tpu"}}, "'train_basic.device' must be auto, cpu"),
    ({"train_basic": {"epochs_train": -3}}, "'train_basic.epochs_train' must be at least 0"),
    ({"train_basic": {"train_epoch_size": 0}}, "'train_basic.train_epoch_size' must be at least"),
    ({"train": {"epochs_warmup": 0}, "train_basic": {"epochs_train": 0}}, "trains no epoch"),
    ({"postprocess": {"height": 2}}, "'postprocess.height' must be at most 1"),
    ({"evaluate": {"metric": "at9"}}, "'evaluate.metric' must be one of"),
])
def test_the_issue_cases_are_one_line_errors(params: dict, words: str) -> None:
    with pytest.raises(BallspotError) as info:
        check_params(params, "params.yaml")
    assert words in str(info.value) and str(info.value).startswith("params.yaml: ")


def test_a_stage_with_a_bad_value_exits_1_with_one_line(tmp_path: Path) -> None:
    params = load_params(REPO / "params.yaml")
    params["train"]["batch_size"] = "four"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run([sys.executable, "-m", "stages.train", "--stage", "train_basic",
                             "--fold", "0", "--out", str(tmp_path / "m"), "--live",
                             str(tmp_path / "l"), "--params", str(tmp_path / "params.yaml")],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "'train.batch_size' must be an integer" in lines[0], lines
    assert not (tmp_path / "m").exists()


def test_a_profile_with_a_bad_value_names_the_profile(tmp_path: Path) -> None:
    bad = tmp_path / "fast.yaml"
    bad.write_text("train_finetune:\n  base_lr: fast\n")
    with pytest.raises(BallspotError) as info:
        apply_profiles([str(bad)], REPO / "params.yaml", REPO / "profiles")
    assert str(info.value).startswith(str(bad)) and "train_finetune.base_lr" in str(info.value)


def test_the_choices_are_those_of_the_code_that_reads_them() -> None:
    from ballspot.data.download import SOURCES, SPLITS
    from ballspot.data.encoder import CODECS
    from ballspot.data.soccernet import VIDEO_EXTS
    from ballspot.data.video import BACKENDS
    from ballspot.eval.metric import METRIC_WINDOWS
    from ballspot.train.sampling import VIDEO_CHOICES

    train = RULES[("train",)]
    assert set(RULES[("evaluate",)]["metric"].choices) == set(METRIC_WINDOWS)
    assert set(train["decode_backend"].choices) == set(BACKENDS)
    assert set(RULES[("predict",)]["decode_backend"].choices) == set(BACKENDS)
    assert set(train["video_choice"].choices) == set(VIDEO_CHOICES)
    synthetic, download = RULES[("data", "synthetic")], RULES[("data", "download")]
    assert set(synthetic["codec"].choices) == set(CODECS)
    assert set(synthetic["ext"].choices) == set(VIDEO_EXTS)
    assert set(download["source"].choices) == set(SOURCES)
    assert set(download["splits"].choices) == set(SPLITS) == set(download["action_splits"].choices)
