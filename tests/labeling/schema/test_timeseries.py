"""Time series: the TimeSeries object and its Channels, TimeSeriesLabels ranges and instant
events as Label Studio's editor stores them, and the reading of CSV and inline columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from labeling.schema import (
    LabelConfigError,
    parse_label_config,
    validate_result,
    validate_task_data,
)
from labeling.schema.timeseries import SeriesError, format_time, parse_time, read_series

TEMPLATES = Path(__file__).parents[3] / "labeling" / "schema" / "ls_templates"  # shipped with labelfab
TS_TEMPLATES = sorted(p.stem for p in TEMPLATES.glob("time-series-analysis__*.xml"))

INLINE = """<View>
  <TimeSeriesLabels name="label" toName="ts">
    <Label value="Run" background="red"/><Label value="Walk" background="green"/>
  </TimeSeriesLabels>
  <TimeSeries name="ts" value="$ts" valueType="json" timeColumn="Time">
    <Channel column="Velocity" legend="Velocity"/>
  </TimeSeries>
  <Choices name="kind" toName="ts"><Choice value="Good"/><Choice value="Bad"/></Choices>
</View>"""

DATED = """<View>
  <TimeSeriesLabels name="label" toName="ts"><Label value="Change"/></TimeSeriesLabels>
  <TimeSeries name="ts" value="$csv" valueType="url" timeColumn="time" timeFormat="%Y-%m-%d %H:%M:%S.%f">
    <Channel column="velocity"/>
  </TimeSeries>
</View>"""

CSV = "time,velocity,acceleration\n2019-01-01 00:00:00.000000,1.5,0\n2019-01-01 00:00:01.500000,2,1\n" \
      "2019-01-01 00:00:03.000000,x,2\n"


def _item(value, **over):
    return {"id": "r1", "from_name": "label", "to_name": "ts", "type": "timeserieslabels", "value": value, **over}


@pytest.mark.parametrize("name", TS_TEMPLATES)
def test_label_studios_time_series_templates_are_accepted(name):
    schema = parse_label_config((TEMPLATES / f"{name}.xml").read_text())
    ts = next(o for o in schema.objects.values() if o.tag == "TimeSeries")
    assert ts.series.value_type == "url" and ts.series.channels
    assert any(c.type == "timeserieslabels" for c in schema.controls)


def test_the_five_time_series_templates_are_vendored():
    assert TS_TEMPLATES == ["time-series-analysis__activity-recognition", "time-series-analysis__change-point-detection",
                            "time-series-analysis__outliers-anomaly-detection", "time-series-analysis__signal-quality",
                            "time-series-analysis__time-series-forecasting"]


def test_channels_and_attributes_are_read_as_label_studio_reads_them():
    schema = parse_label_config((TEMPLATES / "time-series-analysis__activity-recognition.xml").read_text())
    series = schema.objects["ts"].series
    assert series.time_column == "time" and series.time_format == "%Y-%m-%d %H:%M:%S.%f" and series.sep == ","
    assert [c.column for c in series.channels] == ["velocity", "acceleration"]
    assert series.channels[0].legend == "Velocity" and series.channels[0].units == "miles/h"
    assert series.overview_channels == ["velocity"]
    assert schema.control("label").series == series  # the control knows how its times read


def test_a_time_series_without_channels_or_with_other_tags_is_refused():
    with pytest.raises(LabelConfigError, match="no <Channel"):
        parse_label_config('<View><TimeSeries name="ts" value="$csv"/>'
                           '<TimeSeriesLabels name="l" toName="ts"><Label value="A"/></TimeSeriesLabels></View>')
    with pytest.raises(LabelConfigError, match="only <Channel> and <MultiChannel> tags"):
        parse_label_config('<View><TimeSeries name="ts" value="$csv"><Channel column="a"/><Text name="t" value="$t"/>'
                           '</TimeSeries><TimeSeriesLabels name="l" toName="ts"><Label value="A"/></TimeSeriesLabels>'
                           '</View>')
    with pytest.raises(LabelConfigError, match='valueType="xml"'):
        parse_label_config('<View><TimeSeries name="ts" value="$csv" valueType="xml"><Channel column="a"/>'
                           '</TimeSeries><TimeSeriesLabels name="l" toName="ts"><Label value="A"/></TimeSeriesLabels>'
                           '</View>')


def test_numeric_ranges_and_instants_validate():
    schema = parse_label_config(INLINE)
    data = {"ts": {"time": [0, 1.5, 3], "velocity": [1, 2, 3]}}
    assert validate_task_data(schema, data) == []
    good = [_item({"start": 0, "end": 1.5, "instant": False, "timeserieslabels": ["Run"]}),
            _item({"start": 3, "end": 3, "instant": True, "timeserieslabels": ["Walk"]}, id="r2"),
            {"id": "c", "from_name": "kind", "to_name": "ts", "type": "choices", "value": {"choices": ["Good"]}}]
    assert validate_result(schema, good, data) == []
    bad = validate_result(schema, [_item({"start": 2, "end": 1, "timeserieslabels": ["Run"]})], data)
    assert bad and "comes after" in bad[0]
    bad = validate_result(schema, [_item({"start": 1, "end": 2, "instant": True, "timeserieslabels": ["Run"]})], data)
    assert bad and "instant" in bad[0]
    bad = validate_result(schema, [_item({"start": "0", "end": 1, "timeserieslabels": ["Run"]})], data)
    assert bad and "must be numbers" in bad[0]
    bad = validate_result(schema, [_item({"start": 0, "end": 1, "timeserieslabels": ["Fly"]})], data)
    assert bad and "Fly" in bad[0]


def test_dated_ranges_are_strings_in_the_time_format():
    schema = parse_label_config(DATED)
    data = {"csv": "https://example.com/s.csv"}
    ok = _item({"start": "2019-01-01 00:00:00.000000", "end": "2019-01-01 00:00:01.500000", "instant": False,
                "timeserieslabels": ["Change"]})
    assert validate_result(schema, [ok], data) == []
    bad = validate_result(schema, [_item({"start": 0, "end": 1, "timeserieslabels": ["Change"]})], data)
    assert bad and "'%Y-%m-%d %H:%M:%S.%f'" in bad[0]


def test_inline_columns_are_checked_with_the_task():
    schema = parse_label_config(INLINE)
    problems = validate_task_data(schema, {"ts": {"time": [0, 1], "speed": [1, 2]}})
    assert problems and "'velocity'" in problems[0]
    problems = validate_task_data(schema, {"ts": {"time": [0, 1], "velocity": [1]}})
    assert problems and "differ in length" in problems[0]
    problems = validate_task_data(schema, {"ts": {"time": [1, 0], "velocity": [1, 2]}})
    assert problems and "not sorted" in problems[0]
    assert validate_task_data(schema, {"ts": '{"time": [0, 1], "velocity": [1, 2]}'}) == []  # a JSON string


def test_times_parse_and_format_as_d3_does():
    ms = parse_time("2019-01-01 00:00:01.500000", "%Y-%m-%d %H:%M:%S.%f")
    assert ms == 1546300801500.0
    assert format_time(ms, "%Y-%m-%d %H:%M:%S.%f") == "2019-01-01 00:00:01.500000"
    assert format_time(ms, "%Y-%m-%d %H:%M:%S.%L") == "2019-01-01 00:00:01.500"
    assert parse_time("2019-01-01 00:00:01.500", "%Y-%m-%d %H:%M:%S.%L") == ms


def test_a_csv_reads_into_numbers_and_the_keys_regions_store():
    spec = parse_label_config(DATED).objects["ts"].series
    series = read_series(spec, CSV.encode())
    assert series["x"] == [1546300800000.0, 1546300801500.0, 1546300803000.0]
    assert series["keys"] == ["2019-01-01 00:00:00.000000", "2019-01-01 00:00:01.500000", "2019-01-01 00:00:03.000000"]
    assert series["channels"] == {"velocity": [1.5, 2.0, None]}


def test_without_a_time_column_the_x_axis_is_the_row_index():
    schema = parse_label_config('<View><TimeSeries name="ts" value="$csv" sep=";"><Channel column="v"/></TimeSeries>'
                                '<TimeSeriesLabels name="l" toName="ts"><Label value="A"/></TimeSeriesLabels></View>')
    series = read_series(schema.objects["ts"].series, "V;w\n5;1\n6;2\n")
    assert series["x"] == [0.0, 1.0] and series["keys"] == [0, 1] and series["channels"] == {"v": [5.0, 6.0]}


HEADLESS = """<View>
  <TimeSeries name="ts" value="$csv" valueType="url" sep=";" timeColumn="0">
    <MultiChannel><Channel column="1" legend="x"/><Channel column="2" legend="y"/></MultiChannel>
    <Channel column="3"/>
  </TimeSeries>
  <TimeSeriesLabels name="l" toName="ts"><Label value="Step"/></TimeSeriesLabels>
</View>"""


def test_a_csv_without_a_header_names_its_columns_by_index():
    spec = parse_label_config(HEADLESS).objects["ts"].series
    assert [(c.column, c.legend, c.group) for c in spec.channels] == [("1", "x", 0), ("2", "y", 0), ("3", None, None)]
    series = read_series(spec, "0;1.5;-2;0x10\n0.5;2.5;-1;1e2\n1;3;0;.5\n")  # numbers as JavaScript reads them
    assert series["x"] == [0.0, 0.5, 1.0] and series["keys"] == [0, 0.5, 1]
    assert series["channels"] == {"1": [1.5, 2.5, 3.0], "2": [-2.0, -1.0, 0.0], "3": [None, 100.0, 0.5]}
    # a first row of words above rows of numbers is a header; channel indexes name its columns
    untimed = parse_label_config(HEADLESS.replace('timeColumn="0"', "")).objects["ts"].series
    with_header = read_series(untimed, "Time;X;Y;Z\n0;1;2;3\n1;4;5;6\n")
    assert with_header["channels"] == {"1": [1.0, 4.0], "2": [2.0, 5.0], "3": [3.0, 6.0]}
    # ... but the time column is matched by name only, as Label Studio's editor does
    with pytest.raises(SeriesError, match="no column '0'"):
        read_series(spec, "Time;X;Y;Z\n0;1;2;3\n")
    # words in both rows (a column of labels) and numbers in both: no header either
    assert read_series(untimed, "a;1;2;3\nb;4;5;6\n")["channels"]["1"] == [1.0, 4.0]


def test_multichannel_holds_only_channels():
    with pytest.raises(LabelConfigError, match="inside <MultiChannel>; only <Channel>"):
        parse_label_config('<View><TimeSeries name="ts" value="$csv"><MultiChannel><Text name="t" value="$t"/>'
                           '</MultiChannel><Channel column="a"/></TimeSeries>'
                           '<TimeSeriesLabels name="l" toName="ts"><Label value="A"/></TimeSeriesLabels></View>')
    with pytest.raises(LabelConfigError, match="no <Channel"):
        parse_label_config('<View><TimeSeries name="ts" value="$csv"><MultiChannel/></TimeSeries>'
                           '<TimeSeriesLabels name="l" toName="ts"><Label value="A"/></TimeSeriesLabels></View>')


def test_bad_csvs_name_their_problem():
    spec = parse_label_config(DATED).objects["ts"].series
    with pytest.raises(SeriesError, match="does not match timeFormat"):
        read_series(spec, "time,velocity\n2019-01-01,1\n")
    with pytest.raises(SeriesError, match="row 3 has 1 fields"):
        read_series(spec, "time,velocity\n2019-01-01 00:00:00.0,1\n5\n")
    with pytest.raises(SeriesError, match="empty"):
        read_series(spec, "")


def test_a_preview_plots_a_made_up_series_stored_as_a_tasks_would_be():
    from labeling.schema.timeseries import sample_series

    dated = sample_series(parse_label_config(DATED).objects["ts"].series, rows=3)
    assert dated["keys"] == ["2024-01-01 00:00:00.000000", "2024-01-01 00:00:01.000000", "2024-01-01 00:00:02.000000"]
    assert list(dated["channels"]) == ["velocity"] and len(dated["channels"]["velocity"]) == 3
    plain = sample_series(parse_label_config(INLINE).objects["ts"].series, rows=2)
    assert plain["keys"] == [0, 1] and plain["x"] == [0.0, 1.0]
