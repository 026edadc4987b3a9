from __future__ import annotations

import pytest
import yaml

import jetgraph
from jetgraph.errors import RecipeError
from jetgraph.io.recipe import FORMATS, builtin_recipes, load_recipe, parse_recipe

MINIMAL = {
    "format": "ntuple",
    "tree": "t",
    "fields": {"part.px": "a", "part.py": "b", "part.pz": "c", "part.energy": "d"},
}


def test_every_builtin_recipe_parses_and_names_a_reader():
    recipes = builtin_recipes()
    assert {"jetclass", "jetgraph"} <= set(recipes)
    for recipe in recipes.values():
        assert recipe.format in FORMATS
        assert recipe.detect, f"{recipe.name} cannot be auto-detected"
        assert recipe.description
        jetgraph.io.reader(recipe)  # the module exists


def test_units_scale_and_label_names():
    recipe = parse_recipe({**MINIMAL, "units": {"energy": "MeV"}, "label": {"one_hot": {"q": "is_q", "g": "is_g"}}})
    assert recipe.energy_scale == pytest.approx(1e-3)
    assert recipe.label_names == ["q", "g"]
    assert recipe.fields_of("part") == {"px": "a", "py": "b", "pz": "c", "energy": "d"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fromat": "ntuple"}, r"unknown key 'fromat'; did you mean 'format'"),
        ({"format": "ntupel"}, r"format: 'ntupel' is not a known reader; did you mean 'ntuple'"),
        ({"units": {"energy": "keV"}}, r"units.energy: 'keV' is not one of \['GeV', 'MeV', 'TeV'\]"),
        ({"units": {"angle": "deg"}}, r"mine.yaml: unknown key 'units.angle'; expected one of \['energy'\]"),
        ({"fields": {"part.ptt": "x"}}, r"fields: unknown field 'part.ptt'; did you mean 'pt'"),
        ({"fields": {"particles.pt": "x"}}, r"'particles.pt' is not 'record.field'"),
        ({"fields": {"jet.pt": 3}}, r"mine.yaml: fields.jet.pt: 3; expected a string"),
        ({"label": {"branch": "a", "one_hot": {"x": "y"}}}, r"label needs exactly one of 'branch'"),
        ({"label": {"branch": "a", "class": ["x"]}}, r"unknown key 'label.class'; did you mean 'classes'"),
        ({"label": {"branch": "a", "classes": {"b": [5]}, "names": ["b"]}}, r"label.classes maps class names to codes"),
        ({"label": {"one_hot": ["a", "b"]}}, r"mine.yaml: label.one_hot: \['a', 'b'\]; expected a mapping"),
        ({"label": {"one_hot": {}}}, r"label.one_hot must map class names to branches"),
        ({"tree": 3}, r"mine.yaml: tree: 3; expected a string"),
        ({"format": None}, r"mine.yaml: format: None; expected a value"),
    ],
)
def test_bad_recipes_name_the_problem(change, message):
    with pytest.raises(RecipeError, match=message):
        parse_recipe({**MINIMAL, **change}, source="mine.yaml")


def test_recipe_files_and_names(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(MINIMAL))
    assert load_recipe(path).tree == "t"
    assert load_recipe(str(path)).name == "r"
    (tmp_path / "broken.yaml").write_text("format: [ntuple\n")
    with pytest.raises(RecipeError, match=r"broken.yaml: not valid YAML"):
        load_recipe(tmp_path / "broken.yaml")
    with pytest.raises(RecipeError, match=r"missing.yaml: recipe file not found"):
        load_recipe(tmp_path / "missing.yaml")
    with pytest.raises(
        RecipeError, match=r"recipe 'jetclas' is not a built-in recipe or a .yaml file; did you mean 'jetclass'"
    ):
        load_recipe("jetclas")


def test_unknown_reader_option_rejected_when_read(jetclass_file, tmp_path):
    path = tmp_path / "opts.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "format": "ntuple",
                "tree": "tree",
                "fields": {
                    "part.px": "part_px",
                    "part.py": "part_py",
                    "part.pz": "part_pz",
                    "part.energy": "part_energy",
                },
                "options": {"pid_flag": {}},
            }
        )
    )
    with pytest.raises(
        RecipeError, match=r"opts.yaml: unknown option 'pid_flag' for format 'ntuple'; accepted: \['pid_flags'\]"
    ):
        jetgraph.read(jetclass_file, recipe=path)
