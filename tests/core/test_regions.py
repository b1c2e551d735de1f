import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from studio.core.masks import Box
from studio.core.regions import plan_region, processing_size


def test_processing_size_is_a_multiple_of_8_near_the_native_area():
    assert processing_size(1.0, 512) == (512, 512)
    w, h = processing_size(4 / 3, 512)
    assert w % 8 == 0 and h % 8 == 0 and abs(w / h - 4 / 3) < 0.03
    assert abs(w * h - 512 * 512) / (512 * 512) < 0.05


def test_whole_picture_covers_it_at_the_requested_size():
    plan = plan_region((100, 75), None, "whole", 0, 64, size=(64, 48))
    assert plan.size == (64, 48)
    assert plan.context == Box(0, 0, 100, 75)


def test_masked_region_is_padded_and_kept_inside():
    mask = np.zeros((200, 300), np.uint8)
    mask[90:110, 140:160] = 255
    plan = plan_region((300, 200), mask, "masked", 10, 64)
    assert plan.size == (64, 64)
    assert plan.context == Box(130, 80, 170, 120)
    corner = np.zeros((200, 300), np.uint8)
    corner[0:5, 0:5] = 255
    assert plan_region((300, 200), corner, "masked", 10, 64).context == Box(0, 0, 25, 25)  # padded box moved inside, not cut


@settings(max_examples=50, deadline=None)
@given(st.integers(9, 300), st.integers(9, 300), st.sampled_from(["whole", "masked"]))
def test_cut_and_put_back_round_trip_keeps_size_and_aspect(width, height, area):
    picture = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
    mask = np.zeros((height, width), np.uint8)
    mask[height // 3: height // 2 + 1, width // 3: width // 2 + 1] = 255
    plan = plan_region((width, height), mask, area, 4, 64)
    assert plan.size[0] % 8 == 0 and plan.size[1] % 8 == 0
    aspect = plan.size[0] / plan.size[1]  # the context matches it to within a pixel of the picture: no distortion
    assert abs(plan.context.width - plan.context.height * aspect) <= max(1.0, aspect)
    cut = plan.cut(picture)
    assert cut.shape == (plan.size[1], plan.size[0], 3)
    back = plan.put_back(picture, cut)
    assert back.shape == picture.shape
