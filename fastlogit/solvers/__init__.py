"""Solvers: functions over an Objective, registered in SOLVERS."""
