"""Masking of phones and ID numbers in rosters and logs."""

from __future__ import annotations

import logging
import re

import geopandas as gpd
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from gridplan.privacy import PersonalDataFilter, mask_id_number, mask_people, mask_phone, mask_text

mobiles = st.builds(
    lambda second, rest: f"1{second}{rest:09d}",
    st.sampled_from("3456789"),
    st.integers(0, 10**9 - 1),
)
id_numbers = st.builds(
    lambda body, check: f"{body:017d}{check}",
    st.integers(10**16, 10**17 - 1),
    st.sampled_from("0123456789X"),
)


def test_examples() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone(13812345678) == "138****5678"
    assert mask_phone("+86 138-1234-5678") == "138****5678"
    assert mask_phone("0771-5551234") == "****1234"
    assert mask_phone(None) == ""
    assert mask_phone(float("nan")) == ""
    assert mask_id_number("11010519491231002X") == "110***********002X"
    assert mask_id_number("110105491231002") == "110********1002"
    assert mask_id_number(pd.NA) == ""
    assert mask_text("tel 13812345678; id 11010519491231002X") == (
        "tel 138****5678; id 110***********002X"
    )


def test_text_keeps_other_numbers() -> None:
    assert mask_text("building B0123 has 120 households") == "building B0123 has 120 households"
    assert mask_text("P00412 at 2 140 m") == "P00412 at 2 140 m"


@given(phone=mobiles, ident=id_numbers, note_phone=mobiles)
@settings(max_examples=30, deadline=None)
def test_no_raw_number_survives_mask_people(phone: str, ident: str, note_phone: str) -> None:
    df = pd.DataFrame(
        {
            "person_id": ["P00001"],
            "building_id": ["B0001"],
            "name": ["张三"],
            "phone": [phone],
            "id_number": [ident],
            "note": [f"call {note_phone} after 6pm"],
        }
    )
    out = mask_people(df)
    text = out.to_csv(index=False)
    assert phone not in text
    assert note_phone not in text
    assert ident not in text
    assert ident[6:14] not in text  # the birth date
    assert out.loc[0, "phone"] == phone[:3] + "****" + phone[-4:]
    assert out.loc[0, "person_id"] == "P00001"
    assert df.loc[0, "phone"] == phone  # input untouched
    assert mask_people(df, reveal=True).equals(df)


def test_mask_people_keeps_geodataframe_and_missing() -> None:
    gdf = gpd.GeoDataFrame(
        {"person_id": ["P1", "P2"], "phone": ["13912345678", None]},
        geometry=[Point(0, 0), Point(1, 1)],
        crs="EPSG:32648",
    )
    out = mask_people(gdf)
    assert isinstance(out, gpd.GeoDataFrame)
    assert out["phone"].tolist()[0] == "139****5678"
    assert out["phone"].isna().tolist() == [False, True]


@given(phone=mobiles, ident=id_numbers)
@settings(max_examples=30, deadline=None)
def test_log_filter_masks(phone: str, ident: str) -> None:
    logger = logging.getLogger("gridplan.test_privacy")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    handler.addFilter(PersonalDataFilter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("person P1 phone %s id %s", phone, ident)
        logger.warning(f"direct {phone}")
    finally:
        logger.removeHandler(handler)
    assert len(records) == 2
    for rec in records:
        msg = rec.getMessage()
        assert phone not in msg
        assert ident not in msg
        assert re.search(r"\d{3}\*{4}\d{4}", msg)


def test_log_filter_leaves_plain_messages() -> None:
    rec = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "grid %s: %d households", ("C01-001", 400), None
    )
    assert PersonalDataFilter().filter(rec) is True
    assert rec.getMessage() == "grid C01-001: 400 households"


@pytest.mark.parametrize("value", ["", "   ", "12"])
def test_short_values(value: str) -> None:
    assert "1" not in mask_phone(value) or value == ""
    assert mask_id_number(value) in {"", "**"}
