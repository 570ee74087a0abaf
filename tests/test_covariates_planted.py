"""The covariate audit recovers what the synthetic populations plant (fairaudit.synthetic presets
``covariates_explained`` and ``covariates_direct``; see docs/guide/synthetic.md): quality drives FNMR,
more steeply in one gender; the N groups have lower quality; a larger age gap raises FNMR; old
impostors match more; and the regression tells a gap carried by quality from one that remains."""

from __future__ import annotations

import numpy as np
import pytest

import fairaudit
from fairaudit.common.serialize import frame_from_dict


@pytest.fixture(scope="module", params=["covariates_explained", "covariates_direct"])
def audited(request):
    es = fairaudit.synthetic.population(request.param, random_state=0)
    result = fairaudit.covariate_audit(es, by="ethnicity", threshold={"fmr": 1e-3}, n_boot=200)
    return request.param, es, result


def _gap(result, group):
    gaps = frame_from_dict(result.models["genuine"]["gaps"]).set_index("group")
    return gaps.loc[group]


def test_the_planted_story_is_in_the_metadata(audited):
    preset, es, _ = audited
    planted = es.metadata["planted"]["covariates"]
    assert planted["gap"]["explained_by"] == "quality" and planted["quality"]["lower_in"] == ["H & N", "M & N"]
    assert planted["gap"]["direct_effect"] is (preset == "covariates_direct")


def test_fnmr_falls_with_quality_in_every_group(audited):
    _, _, result = audited
    table = result.table("fnmr", "quality")
    for group in ("A", "B", "N"):
        assert table[group].iloc[0] > 5 * max(table[group].iloc[-1], 0.005)
    assert np.all(np.diff(table["(overall)"].to_numpy()) < 0)


def test_quality_is_lower_in_the_planted_group(audited):
    _, es, _ = audited
    quality = es.covariates["quality"]
    eth = es.column("ethnicity")
    assert quality[eth == "N"].median() < quality[eth == "A"].median() - 0.1


def test_quality_hurts_one_gender_more(audited):
    _, es, _ = audited
    r = fairaudit.covariate_audit(es, by="gender", covariates="quality", threshold={"fmr": 1e-3}, n_boot=0,
                                  regression=False)
    table = r.table("fnmr", "quality")
    assert table["M"].iloc[0] - table["M"].iloc[-1] > 2 * (table["H"].iloc[0] - table["H"].iloc[-1])


def test_a_larger_age_gap_raises_fnmr(audited):
    _, _, result = audited
    overall = result.table("fnmr", "age", "gap")["(overall)"].to_numpy()
    assert overall[-1] > 1.8 * overall[0] and np.all(np.diff(overall) > 0)


def test_old_impostors_match_more(audited):
    _, es, result = audited
    heat = result.heatmap("age", None)  # everyone; bins are quantiles of age: the last holds the oldest
    assert heat.iloc[-1, -1] > 1.5 * heat.iloc[0, 0]


def test_the_regression_tells_an_explained_gap_from_a_direct_one(audited):
    preset, _, result = audited
    n = _gap(result, "N")
    assert n.or_unadjusted > 3 and n.ci_low_unadjusted > 1.5  # the gap is there before adjustment
    if preset == "covariates_explained":
        assert n.ci_low_adjusted < 1 < n.ci_high_adjusted and n.explained > 0.7
        assert any("account for about" in s and "'N'" in s for s in result.sentences())
    else:
        assert n.ci_low_adjusted > 1.4 and n.explained < 0.7
        assert any("'N'" in s and "the gap remains" in s for s in result.sentences())
    b = _gap(result, "B")  # no gap planted between A and B
    assert b.ci_low_unadjusted < 1 < b.ci_high_unadjusted
