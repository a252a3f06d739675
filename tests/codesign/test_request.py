import pytest

from codesign.request import SearchRequest
from fpga.errors import InputError


def test_defaults_and_round_trip(tmp_path):
    r = SearchRequest(dataset="fashion-mnist", device="pynq-z1", out=str(tmp_path / "r"),
                      max_lut=30_000, min_fps=10_000)
    assert r.budgets() == {"lut": 30_000, "bram18": 280, "dsp": 220, "fps": 10_000.0}
    assert r.clock == 100.0
    assert SearchRequest.from_dict(r.to_dict()) == r
    assert r.storage_url().startswith("sqlite:///") and r.storage_url().endswith("study.db")


@pytest.mark.parametrize("kw,field", [
    ({"device": "nope"}, "device"), ({"max_lut": -5}, "max-lut"), ({"max_lut": 0}, "max-lut"),
    ({"min_fps": 0.0}, "min-fps"), ({"dataset": "imagenet"}, "dataset"),
    ({"max_lut": 10**9}, "max-lut"), ({"strategy": "bogus"}, "strategy"),
    ({"epochs": 0}, "epochs"), ({"max_dsp": 1.5}, "max-dsp"),
])
def test_bad_values_name_the_field(kw, field, tmp_path):
    base = {"dataset": "mnist", "device": "pynq-z1", "out": str(tmp_path)}
    with pytest.raises(InputError) as e:
        SearchRequest(**{**base, **kw})
    assert e.value.field == field


def test_unknown_key_in_file(tmp_path):
    p = tmp_path / "req.json"
    p.write_text('{"dataset": "mnist", "device": "pynq-z1", "out": "x", "lut": 3}')
    with pytest.raises(InputError) as e:
        SearchRequest.load(p)
    assert "lut" in str(e.value)
