"""Operator tools that run off the board."""
