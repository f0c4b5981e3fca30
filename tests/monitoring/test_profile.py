"""The reference profile: JSON and Parquet files, round trips, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlops_nb.monitoring import DriftDetector, MonitoringError, ReferenceProfile
from mlops_nb.monitoring.profile import PROFILE_VERSION, ColumnProfile
from tests.monitoring.conftest import make_frame


@pytest.mark.parametrize("suffix", [".json", ".parquet"])
def test_round_trip_gives_identical_reports(
    detector: DriftDetector, tmp_path: Path, suffix: str
) -> None:
    path = detector.profile_.save(tmp_path / f"profile{suffix}")
    loaded = ReferenceProfile.load(path)
    assert loaded.to_dict() == detector.profile_.to_dict()

    rebuilt = DriftDetector.from_profile(path)
    for current in (make_frame(3_000, 1), make_frame(3_000, 2, shift=0.5)):
        expected, actual = detector.test(current), rebuilt.test(current)
        pd.testing.assert_frame_equal(actual.features, expected.features)
        assert actual.to_dict() == expected.to_dict()


def test_json_file_is_plain_json(detector: DriftDetector, tmp_path: Path) -> None:
    data = json.loads(detector.profile_.save(tmp_path / "p.json").read_text())
    assert data["format"] == "mlops_nb.drift_profile" and data["version"] == PROFILE_VERSION
    income = data["columns"][0]
    assert income["name"] == "income" and len(income["sample"]) == 10_000
    assert len(income["shares"]) == len(income["edges"]) + 1 == 20


def test_parquet_file_is_a_table_with_metadata(detector: DriftDetector, tmp_path: Path) -> None:
    table = pq.read_table(detector.profile_.save(tmp_path / "p.parquet"))
    assert table.column_names == ["column", "part", "position", "value", "category"]
    assert b"mlops_nb.drift_profile" in table.schema.metadata
    regions = table.filter(pa.compute.equal(table["column"], "region")).to_pandas()
    assert set(regions["category"]) == {"north", "south", "east", "west"}


def test_from_profile_takes_test_parameters(detector: DriftDetector) -> None:
    rebuilt = DriftDetector.from_profile(detector.profile_, alpha=0.01, min_samples=50)
    assert rebuilt.alpha == 0.01 and rebuilt.min_samples == 50
    assert rebuilt.bins == detector.bins
    assert rebuilt.profile_ is detector.profile_


def test_from_profile_refuses_other_fit_parameters(detector: DriftDetector) -> None:
    with pytest.raises(MonitoringError, match=r"bins=5 \(profile: 20\)"):
        DriftDetector.from_profile(detector.profile_, bins=5)
    with pytest.raises(MonitoringError, match="unknown DriftDetector parameter"):
        DriftDetector.from_profile(detector.profile_, alhpa=0.1)


def test_unknown_version_is_refused(detector: DriftDetector, tmp_path: Path) -> None:
    data = detector.profile_.to_dict()
    data["version"] = 99
    path = tmp_path / "future.json"
    path.write_text(json.dumps(data))
    with pytest.raises(MonitoringError, match="version 99") as caught:
        ReferenceProfile.load(path)
    assert caught.value.path == str(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.json", "{not json", "not a JSON drift profile"),
        ("other.json", json.dumps({"hello": 1}), "not a drift profile"),
        (
            "partial.json",
            json.dumps({"format": "mlops_nb.drift_profile", "version": PROFILE_VERSION}),
            "malformed drift profile",
        ),
        ("garbage.parquet", "PAR1 nope", "not a Parquet drift profile"),
    ],
)
def test_malformed_files_are_refused(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(MonitoringError, match=message):
        ReferenceProfile.load(path)


def test_plain_parquet_file_is_not_a_profile(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    make_frame(10, 0).to_parquet(path)
    with pytest.raises(MonitoringError, match="not a drift profile"):
        DriftDetector.from_profile(path)


def test_pickle_and_missing_files_are_refused(detector: DriftDetector, tmp_path: Path) -> None:
    with pytest.raises(MonitoringError, match=r"\*\.json or \*\.parquet"):
        detector.profile_.save(tmp_path / "profile.pkl")
    with pytest.raises(MonitoringError, match="does not exist"):
        ReferenceProfile.load(tmp_path / "absent.json")


def test_profile_table_and_lookup(detector: DriftDetector) -> None:
    table = detector.profile_.table()
    assert table["column"].tolist() == list(detector.profile_.columns)
    assert table.set_index("column").loc["region", "categories"] == 4
    with pytest.raises(MonitoringError, match="'salary' is not in the drift profile"):
        detector.profile_["salary"]


def test_a_column_of_unknown_kind_is_a_monitoring_error(
    detector: DriftDetector, tmp_path: Path
) -> None:
    data = detector.profile_.to_dict()
    column = data["columns"][0] | {"kind": "vector"}
    with pytest.raises(MonitoringError, match="unknown kind 'vector'") as caught:
        ColumnProfile.from_dict(column)
    assert isinstance(caught.value, ValueError) and caught.value.column == column["name"]
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(data | {"columns": [column]}))
    with pytest.raises(MonitoringError, match=r"malformed drift profile .*unknown kind 'vector'"):
        ReferenceProfile.load(path)
