"""The first cell of every notebook: environment check and the mode it runs in."""

from __future__ import annotations

import pytest

from kurs import environment
from kurs.errors import CourseError


def test_nothing_is_missing_in_the_course_environment():
    assert environment.problems() == []


def test_missing_package_is_named_in_norwegian(monkeypatch):
    monkeypatch.setattr(environment, "REQUIRED", [("finnes_ikke_pakke", "en pakke som mangler")])
    with pytest.raises(CourseError) as err:
        environment.check(start_sky=False, quiet=True)
    assert "Mangler en pakke som mangler" in str(err.value) and "./start.sh" in str(err.value)


@pytest.mark.integration
def test_aws_mode_stops_at_the_check_until_the_account_is_confirmed(sky, aws_env):
    # aws mode pointed at the local cloud (an IAM user's key, not the cloud's own): the refusal
    # shows account and region, nothing is created.
    with pytest.raises(CourseError) as err:
        environment.check(quiet=True)
    text = str(err.value)
    assert "ikke bekreftet hvilken AWS-konto" in text and sky.account_id in text
    assert "kurs.aws_mode.confirm" in text
