"""Outcome assessments: instruments, schedules, responses, trajectories and reports."""
