"""Pretraining configs: YAML, dotted overrides, one-line errors that name the key."""

from __future__ import annotations

import pytest

from jetgraph.config import ConfigError, load_config, save_config


def write(tmp_path, text: str):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_yaml_and_overrides_fill_typed_sections(tmp_path):
    path = write(tmp_path, "data: {train: a.root}\nmodel: {encoder: edgeconv, params: {k: 8}}\ntrain: {epochs: 3}\n")
    config = load_config(path, ["train.epochs=5", "model.params.k=4", "train.lr=1e-3", "data.val=[b.root, c.root]"])
    assert config.data.train == ["a.root"] and config.data.val == ["b.root", "c.root"]
    assert config.model.encoder == "edgeconv" and config.model.params == {"k": 4}
    assert config.train.epochs == 5 and config.train.lr == 1e-3 and config.train.batch_size == 256


def test_resolved_config_round_trips_with_its_version(tmp_path):
    config = load_config(None, ["data.train=x.root", "augment.transforms=[rotate, {smear: {strength: 0.2}}]"])
    saved = save_config(config, tmp_path / "config.yaml", version="9.9")
    assert "version: '9.9'" in saved.read_text()
    assert load_config(saved) == config


@pytest.mark.parametrize(
    ("text", "overrides", "message"),
    [
        ("trian: {epochs: 2}", [], "c.yaml: unknown key 'trian'; did you mean 'train'"),
        ("train: {epoch: 2}", [], "c.yaml: unknown key 'train.epoch'; did you mean 'epochs'"),
        ("train: {epochs: two}", [], "train.epochs: 'two'; expected an integer"),
        ("train: {batch_size: 1}", [], "train.batch_size=1; expected at least 2"),
        # a bad --set is named as the user typed it, not as a line of the config file
        ("", ["train.precision=fp16"], "^--set train.precision=fp16; expected 'auto', 'fp32' or 'bf16'"),
        ("", ["train.schedule=linear"], "^--set train.schedule=linear; expected 'cosine' or 'constant'"),
        ("", ["model.probe_layer=3"], "^--set model.probe_layer=3; expected 0 "),
        ("train: {epochs: 2}", ["train.epochs=two"], "^--set train.epochs=two: 'two'; expected an integer"),
        (
            "train: {epochs: 2}",
            ["train.epoch=2"],
            "^--set train.epoch=2: unknown key 'train.epoch'; did you mean 'epochs'",
        ),
        ("train: {epochs: 2}", ["trian.epochs=2"], "^--set trian.epochs=2: unknown key 'trian'; did you mean 'train'"),
        ("train: {epochs: 2}", ["data.step_size=0"], "^--set data.step_size=0; expected a positive number"),
        ("", ["epochs=3"], "expected section.key=value"),
        ("", ["train.epochs"], "expected key=value"),
        ("train: [1, 2]", [], "c.yaml: train: [1, 2]; expected a mapping of TrainConfig settings"),
        ("data: {train: [a}", [], "not valid YAML"),
    ],
)
def test_bad_configs_are_one_line_errors_naming_the_key(tmp_path, text, overrides, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")) as err:
        load_config(write(tmp_path, text), overrides)
    assert "\n" not in str(err.value)
    assert str(tmp_path / "c.yaml") in str(err.value) or "--set" in str(err.value)


def test_a_missing_config_file_names_it(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml: cannot read the config"):
        load_config(tmp_path / "nope.yaml")
