"""Dense per-frame targets and max-window clip targets (original:
lRomul/ball-action-spotting@9c47153 src/target.py:8-65)."""

from __future__ import annotations

import numpy as np
import pytest

from ballspot.data.soccernet import Annotation
from ballspot.model.frames import StackIndexes
from ballspot.train.targets import dense_targets, max_window_targets

CLASSES = ("PASS", "DRIVE")


def test_dense_targets_are_multilabel_and_ignore_unknown_labels():
    annotations = [Annotation(1, 5, "PASS"), Annotation(1, 5, "DRIVE"),
                   Annotation(1, 9, "DRIVE"), Annotation(1, 7, "EMPTY"),
                   Annotation(1, 8, "GOAL")]
    dense = dense_targets(annotations, CLASSES, 12)
    assert dense.shape == (12, 2) and dense.dtype == np.float32
    np.testing.assert_array_equal(dense[5], [1, 1])
    np.testing.assert_array_equal(dense[9], [0, 1])
    assert dense.sum() == 3


def test_dense_targets_reject_annotations_past_the_end():
    with pytest.raises(ValueError, match="frame 12"):
        dense_targets([Annotation(1, 12, "PASS")], CLASSES, 12)


def test_unjittered_clip_target_covers_seven_frames_each_side_of_its_centre():
    stack = StackIndexes(15, 2)
    for offset, expected in [(-8, 0), (-7, 1), (0, 1), (7, 1), (8, 0)]:
        dense = dense_targets([Annotation(1, 100 + offset, "DRIVE")], CLASSES, 200)
        np.testing.assert_array_equal(max_window_targets(dense, stack.make(100)), [0, expected])
    # a 33-frame clip spans 65 frames but its target window is the same 15
    dense = dense_targets([Annotation(1, 108, "PASS")], CLASSES, 200)
    np.testing.assert_array_equal(max_window_targets(dense, StackIndexes(33, 2).make(100)), [0, 0])


def test_jittered_span_is_cropped_dropping_the_odd_row_at_the_end():
    # span 90..120 (31 rows): n = 16 -> drop 8 before, 8 after -> rows 98..112
    clip = [90] + list(range(92, 120, 2)) + [120]
    for frame, expected in [(97, 0), (98, 1), (112, 1), (113, 0)]:
        dense = dense_targets([Annotation(1, frame, "PASS")], CLASSES, 200)
        assert max_window_targets(dense, clip)[0] == expected
    # span 90..119 (30 rows): n = 15 -> drop 7 before, 8 after -> rows 97..111
    clip = list(range(90, 118, 2)) + [119]
    for frame, expected in [(96, 0), (97, 1), (111, 1), (112, 0)]:
        dense = dense_targets([Annotation(1, frame, "PASS")], CLASSES, 200)
        assert max_window_targets(dense, clip)[0] == expected


def test_span_equal_to_the_window_is_used_whole():
    # the original's [left:-right] slice was empty here and crashed
    dense = dense_targets([Annotation(1, 14, "DRIVE")], CLASSES, 30)
    np.testing.assert_array_equal(max_window_targets(dense, StackIndexes(15, 1).make(7)), [0, 1])
    dense = dense_targets([Annotation(1, 3, "PASS")], CLASSES, 30)
    np.testing.assert_array_equal(max_window_targets(dense, [0, 2, 4]), [1, 0])


def test_clip_outside_the_video_is_rejected():
    dense = np.zeros((20, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="outside"):
        max_window_targets(dense, [-1, 0, 1])
    with pytest.raises(ValueError, match="outside"):
        max_window_targets(dense, [18, 19, 20])
