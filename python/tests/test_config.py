# SPDX-License-Identifier: MIT
# dojosim.load_config: values, overrides and derived figures as `dojosim config show --json`;
# bad configs raise ConfigError with the C++ message.
import json

import pytest

import dojosim
from conftest import TINY, cli


def test_config_equals_config_show_json():
    cfg = dojosim.load_config(TINY, set=["noc.routing=yx", "noc.link_bytes_per_cycle=32"])
    status, out, err = cli("config", "show", "--config", TINY, "--set", "noc.routing=yx",
                           "--set", "noc.link_bytes_per_cycle=32", "--json")
    assert status == 0, err
    shown = json.loads(out)
    assert cfg.values == shown["config"]
    assert cfg.parameters == shown["parameters"]
    assert cfg.files == shown["files"]
    assert cfg.derived == {f.pop("key"): f for f in shown["derived"]}


def test_overrides_change_values_and_derived_figures():
    base = dojosim.load_config(TINY)
    wide = base.with_overrides({"noc.link_bytes_per_cycle": 128})
    assert base["noc.link_bytes_per_cycle"] == 64
    assert wide["noc.link_bytes_per_cycle"] == 128
    assert wide.values["noc"]["link_bytes_per_cycle"] == 128
    assert wide.derived["node.link"]["value"] == 2 * base.derived["node.link"]["value"]
    assert base["die.nodes_x"] == 4 and base["die.nodes_y"] == 4


def test_default_is_the_d1_die():
    d1 = dojosim.load_config()
    assert d1.derived["die.usable_nodes"]["value"] == 354
    assert d1.files == []


def test_yaml_reads_back_as_the_same_config(tmp_path):
    cfg = dojosim.load_config(TINY, set={"noc.routing": "yx", "die.disabled": [[1, 2]]})
    path = tmp_path / "resolved.yaml"
    path.write_text(cfg.yaml())
    assert dojosim.load_config(path).values == cfg.values


def test_unknown_key_raises_with_the_nearest_key():
    with pytest.raises(dojosim.ConfigError) as e:
        dojosim.load_config(TINY, set=["noc.link_bytes_per_cylce=32"])
    assert "--set: noc.link_bytes_per_cylce" in str(e.value)
    assert "noc.link_bytes_per_cycle" in str(e.value)
    assert isinstance(e.value, ValueError)


def test_value_out_of_range_raises_naming_key_and_range():
    with pytest.raises(dojosim.ConfigError, match=r"noc\.link_bytes_per_cycle = 0"):
        dojosim.load_config(TINY, set=["noc.link_bytes_per_cycle=0"])


def test_missing_file_raises_naming_it():
    with pytest.raises(dojosim.ConfigError, match="no_such.yaml"):
        dojosim.load_config("configs/no_such.yaml")
