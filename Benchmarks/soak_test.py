#!/usr/bin/env python3
"""Benchmarks/soak_test.py: the soak's verdict (soak.verdict) fed synthetic figures, so that a soak whose checks
can never fail is caught. Each check must trip on its own fault and only on it; a clean run must pass.
scripts/test.sh runs this (step_soak_checks) together with a short real soak with injected faults.

    python3 Benchmarks/soak_test.py
"""

import os
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soak  # noqa: E402  (the directory is not a package)


def clean_counts(**changes):
    counts = dict(messages=1000, corrupted_bytes=0, breaks_expected=3, breaks_unexpected=0, refused=0, churn=500,
                  churn_failed_expected=2, churn_failed_unexpected=0, reloads=30, broken_reloads=2,
                  backend_restarts=1, disables=6, half_open=300, garbage=200)
    counts.update(changes)
    return counts


def sample(forward_fds=411, reverse_fds=411):
    return {"forward": {"rss_kib": 38000, "fds": forward_fds, "cpu_s": 1.0},
            "reverse": {"rss_kib": 38000, "fds": reverse_fds, "cpu_s": 1.0}}


class VerdictTests(unittest.TestCase):
    def test_a_clean_run_passes_with_expected_breaks_and_descriptor_noise(self):
        self.assertEqual(soak.verdict(clean_counts(), sample(), sample(411 + soak.FD_NOISE, 400), {}), [])

    def assertOnlyFailure(self, failures, words):
        self.assertEqual(len(failures), 1, failures)
        self.assertIn(words, failures[0])

    def test_one_corrupted_byte_fails(self):
        self.assertOnlyFailure(soak.verdict(clean_counts(corrupted_bytes=1), sample(), sample(), {}),
                               "1 bytes corrupted")

    def test_one_break_outside_a_backend_restart_fails(self):
        self.assertOnlyFailure(soak.verdict(clean_counts(breaks_unexpected=1), sample(), sample(), {}),
                               "1 long-lived breaks")

    def test_one_churn_failure_outside_a_backend_restart_fails(self):
        self.assertOnlyFailure(soak.verdict(clean_counts(churn_failed_unexpected=1), sample(), sample(), {}),
                               "1 churn failures outside a backend restart")

    def test_one_refused_connect_fails(self):
        self.assertOnlyFailure(soak.verdict(clean_counts(refused=1), sample(), sample(), {}), "1 connects refused")

    def test_descriptor_growth_beyond_noise_fails_on_either_side(self):
        self.assertOnlyFailure(soak.verdict(clean_counts(), sample(), sample(forward_fds=411 + soak.FD_NOISE + 1), {}),
                               f"sidecar forward: {soak.FD_NOISE + 1} more descriptors")
        self.assertOnlyFailure(soak.verdict(clean_counts(), sample(), sample(reverse_fds=411 + soak.FD_NOISE + 1), {}),
                               f"sidecar reverse: {soak.FD_NOISE + 1} more descriptors")

    def test_a_sidecar_that_exited_fails(self):
        end = sample()
        del end["reverse"]
        self.assertOnlyFailure(soak.verdict(clean_counts(), sample(), end, {"reverse": -9}),
                               "sidecar reverse exited during the run (status -9)")

    def test_a_sidecar_that_stops_with_a_non_zero_status_or_not_at_all_fails(self):
        self.assertEqual(soak.verdict(clean_counts(), sample(), sample(), {}, {"forward": 0, "reverse": 0}), [])
        self.assertOnlyFailure(soak.verdict(clean_counts(), sample(), sample(), {}, {"forward": 0, "reverse": 1}),
                               "sidecar reverse did not stop cleanly on SIGTERM: exit status 1")
        self.assertOnlyFailure(soak.verdict(clean_counts(), sample(), sample(), {}, {"forward": None, "reverse": 0}),
                               f"sidecar forward did not stop cleanly on SIGTERM: still running after {soak.STOP_SECONDS} s")

    def test_a_sidecar_that_exited_during_the_run_is_not_also_judged_at_stop(self):
        end = sample()
        del end["forward"]
        self.assertOnlyFailure(soak.verdict(clean_counts(), sample(), end, {"forward": -9}, {"reverse": 0}),
                               "sidecar forward exited during the run (status -9)")

    def test_a_run_without_messages_fails(self):
        self.assertOnlyFailure(soak.verdict(clean_counts(messages=0), sample(), sample(), {}),
                               "no message was exchanged")


if __name__ == "__main__":
    unittest.main()
