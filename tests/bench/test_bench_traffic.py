"""The load's callers and texters: every number the generator hands out is one the help line accepts."""
from __future__ import annotations

import pytest

from bench.traffic import Numbering
from helpline import phones


@pytest.mark.parametrize("seed", [*range(0, 3000, 7), 0x7FFFFFFF, 0xFFFFFFFF])
def test_every_generated_number_is_a_valid_uk_mobile(seed):
    numbering = Numbering(seed)
    for _ in range(3):
        number = numbering.ids(withheld=False).number
        assert phones.to_e164(number) == number, number


def test_a_withheld_caller_has_no_number():
    assert Numbering(1).ids(withheld=True).number == ""
