"""The weekly status dashboard (SPEC §7): gather, draw, render."""
